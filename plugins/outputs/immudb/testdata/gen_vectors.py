# Produces python_vectors.json: what the Python consumer stores for each
# event JSON (as the Logstash redis output writes it). Run once with python3;
# the output is committed and the Go tests compare against it byte for byte.
import hashlib, json

inputs = [
    r'{"@timestamp":"2026-11-24T10:00:00.000Z","@version":"1","message":"hello"}',
    r'{"message":"nested","a":{"z":1,"b":{"y":[1,2,{"k":"v"}],"a":null}},"list":[],"obj":{}}',
    r'{"message":"caf\u00e9 \u65e5\u672c\u8a9e \u00fc\u00f6\u00e4 \u20ac","user":"J\u00fcrgen"}',
    r'{"message":"emoji \ud83d\ude00 and \ud83d\udc4d\ud83c\udffd and \u2603"}',
    '{"message":"raw utf8: café 日本 🚀 ☃","kéy":"é"}',
    r'{"f1":1.0,"f2":1e-7,"f3":1e16,"f4":0.1,"f5":1e15,"f6":123456789.125,"f7":-0.0,"f8":2.5e-5,"f9":0.0001,"f10":1.7976931348623157e308,"f11":5e-324,"f12":3.14159,"f13":100.0,"f14":1E22,"f15":0.00001,"f16":1.0E20}',
    r'{"i1":0,"i2":-1,"i3":9223372036854775807,"i4":-9223372036854775808,"i5":1234567890123,"i6":42}',
    r'{"t":true,"f":false,"n":null,"arr":[true,false,null]}',
    r'{"esc":"quote \" backslash \\ slash \/ newline \n tab \t cr \r bs \b ff \f","ctl":"\u0001\u001f\u007f"}',
    r'{"B":1,"a":2,"_":3,"@x":4,"Z":5,"\u00e9":6,"aa":7,"a b":8,"10":9,"9":10}',
    r'''{"message":"<html>&amp;'single'</html>","path":"C:\\Windows\\System32"}''',
    r'{"@timestamp":"2026-11-24T10:00:00.123Z","@version":"1","host":{"name":"web-1","ip":["10.0.0.1","::1"]},"log":{"level":"info","offset":12345},"tags":["audit","_grokparsefailure"],"event":{"duration":0.25,"outcome":"success"}}',
    r'{"deep":{"a":{"b":{"c":{"d":{"e":[[1,[2,[3]]],{"x":{"y":"z"}}]}}}}}}',
    r'{"message":"line1\nline2\u2028\u2029end","nul":"a\u0000b"}',
    r'{"mixed":[1,1.5,"s",null,true,{"k":[]},[]],"neg":-2.5e-10,"big":12345678901234567.0}',
]

out = []
for i, s in enumerate(inputs):
    # Logstash events always carry @timestamp and @version.
    if '"@timestamp"' not in s:
        s = '{"@timestamp":"2026-11-24T10:00:%02d.%03dZ","@version":"1",' % (i, i * 7) + s[1:]
    obj = json.loads(s)
    text = json.dumps(obj, sort_keys=True)
    out.append({"input": s, "text": text, "key": hashlib.sha256(text.encode("utf-8")).hexdigest()})

with open("python_vectors.json", "w") as f:
    json.dump(out, f, indent=1, ensure_ascii=False)
    f.write("\n")
