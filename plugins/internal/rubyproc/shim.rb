# The Ruby side of the ruby filter: a co-process that runs the user's code on
# events the engine sends over fd 3 and answers on fd 4. Frames are a 4-byte
# big-endian length and a JSON document. It provides the part of Logstash's
# Ruby API that filter code uses: LogStash::Event, LogStash::Timestamp,
# @logger and new_event_block.
require 'json'
require 'time'

module LogStash
  class Error < StandardError; end
  class ConfigurationError < Error; end

  # Timestamp wraps a UTC Time, as Logstash's JrubyTimestampExtLibrary does.
  class Timestamp
    include Comparable
    attr_reader :time

    def initialize(time = Time.now)
      @time = case time
              when Time then time.getutc
              when Timestamp then time.time
              when Numeric then Time.at(time).getutc
              else raise ArgumentError, "invalid timestamp #{time.inspect}"
              end
    end

    # from_nsec makes a Timestamp from nanoseconds since the epoch (the wire
    # form) without the checks of new.
    def self.from_nsec(n)
      ts = allocate
      ts.instance_variable_set(:@time, Time.at(n / 1_000_000_000, n % 1_000_000_000, :nsec).utc)
      ts
    end

    def self.now = new(Time.now)
    def self.at(*args) = new(Time.at(*args))
    def self.parse_iso8601(s) = new(Time.iso8601(s.to_s))

    def self.coerce(v)
      case v
      when Timestamp then v
      when Time then new(v)
      when String then parse_iso8601(v)
      end
    rescue ArgumentError
      nil
    end

    def to_i = @time.to_i
    def to_f = @time.to_f
    def usec = @time.usec
    def nsec = @time.nsec
    def year = @time.year
    def utc = self
    def gmtime = self

    def to_iso8601
      n = @time.nsec
      frac = if n % 1_000_000 == 0 then format('%03d', n / 1_000_000)
             elsif n % 1000 == 0 then format('%06d', n / 1000)
             else format('%09d', n)
             end
      @time.strftime('%Y-%m-%dT%H:%M:%S.') + frac + 'Z'
    end
    alias to_s to_iso8601
    def inspect = to_iso8601
    def to_json(*a) = to_iso8601.to_json(*a)
    def as_json(*) = to_iso8601
    def <=>(o) = o.is_a?(Timestamp) ? @time <=> o.time : nil
    def -(o) = o.is_a?(Timestamp) ? @time - o.time : Timestamp.new(@time - o)
    def +(o) = Timestamp.new(@time + o)
    def hash = @time.hash
    def eql?(o) = o.is_a?(Timestamp) && @time.eql?(o.time)
  end

  class Event
    TIMESTAMP = '@timestamp'.freeze
    METADATA = '@metadata'.freeze
    VERSION = '@version'.freeze
    TAGS = 'tags'.freeze

    def initialize(data = {})
      data = Event.deep_convert(data.is_a?(Hash) ? data : {})
      @meta = data.delete(METADATA)
      @meta = {} unless @meta.is_a?(Hash)
      @data = data
      ts = @data[TIMESTAMP]
      if ts.nil?
        @data[TIMESTAMP] = Timestamp.now
      elsif !ts.is_a?(Timestamp)
        t = Timestamp.coerce(ts)
        if t
          @data[TIMESTAMP] = t
        else
          @data[TIMESTAMP] = Timestamp.now
          @data['_@timestamp'] = ts
          tag('_timestampparsefailure')
        end
      end
      @data[VERSION] = '1' unless @data.key?(VERSION)
      @cancelled = false
    end

    # wire builds an event from the engine's own data without checks.
    def self.wire(data, meta)
      e = allocate
      e.instance_variable_set(:@data, data)
      e.instance_variable_set(:@meta, meta || {})
      e.instance_variable_set(:@cancelled, false)
      e
    end

    def wire_data = @data
    def wire_meta = @meta

    def cancel = (@cancelled = true; nil)
    def uncancel = (@cancelled = false; nil)
    def cancelled? = @cancelled

    def get(ref)
      root, path = resolve(ref)
      return Event.deep_dup(step(root, path[0])) if path.size == 1
      return Event.deep_dup(root) if path.empty?
      v = root
      path.each do |k|
        v = step(v, k)
        return nil if v.nil?
      end
      Event.deep_dup(v)
    end

    def set(ref, value)
      root, path = resolve(ref)
      value = Event.deep_convert(value)
      if path.empty?
        raise ArgumentError, 'set of @metadata needs a hash' unless value.is_a?(Hash)
        @meta = value
        return value
      end
      if path.size == 1 && path[0] == TIMESTAMP && root.equal?(@data)
        t = Timestamp.coerce(value)
        raise ArgumentError, "wrong argument type #{value.class} (expected LogStash::Timestamp)" unless t
        value = t
      end
      if path.size == 1
        store(root, path[0], value)
        return value
      end
      cur = root
      path[0...-1].each do |k|
        nxt = step(cur, k)
        unless nxt.is_a?(Hash) || nxt.is_a?(Array)
          nxt = {}
          store(cur, k, nxt)
        end
        cur = nxt
      end
      store(cur, path[-1], value)
      value
    end

    def remove(ref)
      root, path = resolve(ref)
      if path.empty?
        old = @meta
        @meta = {}
        return old
      end
      cur = root
      path[0...-1].each do |k|
        cur = step(cur, k)
        return nil unless cur.is_a?(Hash) || cur.is_a?(Array)
      end
      k = path[-1]
      if cur.is_a?(Array)
        return nil unless k =~ /\A-?\d+\z/
        i = k.to_i
        return nil if i >= cur.size || i < -cur.size
        cur.delete_at(i)
      else
        cur.delete(k)
      end
    end

    def include?(ref)
      root, path = resolve(ref)
      return true if path.empty?
      cur = root
      path[0...-1].each do |k|
        cur = step(cur, k)
        return false unless cur.is_a?(Hash) || cur.is_a?(Array)
      end
      k = path[-1]
      if cur.is_a?(Array)
        return false unless k =~ /\A-?\d+\z/
        i = k.to_i
        i < cur.size && i >= -cur.size
      else
        cur.key?(k)
      end
    end

    def tag(t)
      tags = @data[TAGS]
      tags = @data[TAGS] = [] if tags.nil?
      tags = @data[TAGS] = [tags] unless tags.is_a?(Array)
      tags << t.to_s unless tags.include?(t.to_s)
      nil
    end

    def timestamp = @data[TIMESTAMP]
    def timestamp=(t)
      set(TIMESTAMP, t)
    end

    def to_hash = Event.deep_dup(@data)
    alias to_h to_hash

    def to_hash_with_metadata
      h = to_hash
      h[METADATA] = Event.deep_dup(@meta) unless @meta.empty?
      h
    end

    def to_json(*a) = @data.to_json(*a)
    def to_s = "#{timestamp} #{@data['host']} #{@data['message']}"
    alias inspect to_s

    def clone
      e = Event.wire(Event.deep_dup(@data), Event.deep_dup(@meta))
      e.cancel if cancelled?
      e
    end
    alias dup clone

    def append(other)
      other.to_hash.each do |k, v|
        cur = @data[k]
        if cur.nil? then @data[k] = v
        elsif cur.is_a?(Array) then @data[k] = cur + Array(v)
        elsif cur != v then @data[k] = [cur] + Array(v)
        end
      end
      self
    end

    def overwrite(other)
      @data = other.to_hash
      @meta = Event.deep_dup(other.wire_meta)
      self
    end

    def sprintf(fmt)
      fmt.to_s.gsub(/%\{([^}]+)\}/) do
        key = Regexp.last_match(1)
        if key.start_with?('+')
          ts = timestamp
          ts ? Event.joda(key[1..], ts.time) : ''
        else
          v = get(key)
          case v
          when nil then "%{#{key}}"
          when Hash, Array then v.to_json
          else v.to_s
          end
        end
      end
    end

    def [](_ref)
      raise NoMethodError, 'Direct event field references (i.e. event[\'field\']) have been disabled in favor of using event get and set methods (e.g. event.get(\'field\')).'
    end

    def []=(_ref, _v)
      raise NoMethodError, 'Direct event field references (i.e. event[\'field\'] = \'value\') have been disabled in favor of using event get and set methods (e.g. event.set(\'field\', \'value\')).'
    end

    JODA = {
      'yyyy' => '%Y', 'YYYY' => '%Y', 'xxxx' => '%G', 'yy' => '%y', 'YY' => '%y', 'MMMM' => '%B', 'MMM' => '%b',
      'MM' => '%m', 'dd' => '%d', 'D' => '%j', 'HH' => '%H', 'hh' => '%I', 'mm' => '%M', 'ss' => '%S',
      'SSS' => '%L', 'EEEE' => '%A', 'EEE' => '%a', 'a' => '%p', 'Z' => '%z', 'ww' => '%V', 'e' => '%u'
    }.freeze

    def self.joda(fmt, t)
      return t.to_i.to_s if fmt == '%s'
      fmt.gsub(/yyyy|YYYY|xxxx|yy|YY|MMMM|MMM|MM|dd|D|HH|hh|mm|ss|SSS|EEEE|EEE|a|Z|ww|e/) { |m| t.strftime(JODA[m]) }
    end

    def self.deep_dup(v)
      case v
      when Hash then v.each_with_object({}) { |(k, x), h| h[k] = deep_dup(x) }
      when Array then v.map { |x| deep_dup(x) }
      when String then v.dup
      else v
      end
    end

    # deep_convert turns what user code sets into event values, refusing what
    # has no JSON meaning, as Logstash's Javafier does.
    def self.deep_convert(v)
      case v
      when nil, true, false, Integer, Timestamp then v
      when Float then v
      when String then v.frozen? ? v.dup : v
      when Symbol then v.to_s
      when Time then Timestamp.new(v)
      when Hash then v.each_with_object({}) { |(k, x), h| h[k.to_s] = deep_convert(x) }
      when Array then v.map { |x| deep_convert(x) }
      when Event then deep_convert(v.to_hash)
      else
        return v.to_f if defined?(BigDecimal) && v.is_a?(BigDecimal)
        return v.to_f if v.is_a?(Rational)
        raise ArgumentError, "Missing Ruby class handling for full class name=#{v.class}, simple name=#{v.class.name.to_s.split('::').last}"
      end
    end

    private

    def resolve(ref)
      path = Event.parse_ref(ref)
      if path.first == METADATA
        [@meta, path[1..]]
      else
        [@data, path]
      end
    end

    def step(v, k)
      case v
      when Hash then v[k]
      when Array then k =~ /\A-?\d+\z/ ? v[k.to_i] : nil
      end
    end

    def store(cur, k, value)
      if cur.is_a?(Array)
        raise ArgumentError, "cannot set an array element with key #{k.inspect}" unless k =~ /\A-?\d+\z/
        cur[k.to_i] = value
      else
        cur[k] = value
      end
    end

    REF_CACHE = {}

    def self.parse_ref(ref)
      ref = ref.to_s
      REF_CACHE[ref] ||= begin
        parts = if ref.start_with?('[')
                  raise ArgumentError, "Invalid FieldReference: `#{ref}`" unless ref =~ /\A(\[[^\[\]]+\])+\z/
                  ref.scan(/\[([^\[\]]+)\]/).flatten
                elsif ref.include?('[')
                  head, rest = ref.split('[', 2)
                  [head] + "[#{rest}".scan(/\[([^\[\]]+)\]/).flatten
                else
                  [ref]
                end
        REF_CACHE.clear if REF_CACHE.size > 10_000
        parts.map(&:freeze).freeze
      end
    end
  end

  # Logger writes to the engine's log through stderr: one line per call, a
  # \x01 and the level in front.
  class Logger
    %w[trace debug info warn error fatal].each do |lvl|
      define_method(lvl) do |msg = nil, data = nil, &blk|
        msg = blk.call if msg.nil? && blk
        line = msg.to_s
        line += ' ' + data.inspect if data
        $stderr.write("\x01#{lvl} #{line.gsub(/[\r\n]+/, ' ')}\n")
        $stderr.flush
        nil
      end
      define_method("#{lvl}?") { true }
    end
  end
end

module PipelineRubyFilter
  TS_KEY = "\u0000ts".freeze

  # Context is the object user code runs in, as the filter instance is in
  # Logstash: instance variables set in init are seen by code.
  class Context
    attr_reader :logger

    def initialize
      @logger = LogStash::Logger.new
      @__tests = []
    end

    def test(name, &blk) = (@__tests << [name, blk]; nil)
    def __tests = @__tests
  end

  # ScriptTest is Logstash's inline test DSL of path scripts.
  class ScriptTest
    attr_reader :params, :events, :expects

    def initialize(&blk)
      @params = {}
      @events = []
      @expects = []
      instance_eval(&blk)
    end

    def parameters(&b) = (@params = b.call)
    def in_event(&b) = (@events = [b.call].flatten)
    alias in_events in_event
    def expect(desc, &b) = (@expects << [desc, b])
  end

  module_function

  # from_wire turns the wire form of times into Timestamps, in place.
  def from_wire(v)
    case v
    when Hash
      if v.size == 1 && v.key?(TS_KEY)
        t = v[TS_KEY]
        return LogStash::Timestamp.from_nsec(t) if t.is_a?(Integer)
        return LogStash::Timestamp.parse_iso8601(t)
      end
      v.each_pair do |k, x|
        next unless x.is_a?(Hash) || x.is_a?(Array)

        y = from_wire(x)
        v[k] = y unless y.equal?(x)
      end
    when Array
      v.map! { |x| x.is_a?(Hash) || x.is_a?(Array) ? from_wire(x) : x }
    end
    v
  end

  UTF_8 = Encoding::UTF_8

  # to_wire returns v in the wire form: v itself when nothing in it needs
  # changing, else a copy of what changes (the event's own values are left
  # as they are: a script may keep the event).
  def to_wire(v)
    case v
    when String then v.encoding == UTF_8 && v.valid_encoding? ? v : v.dup.force_encoding(UTF_8).scrub
    when Hash then wire_hash(v)
    when Array then wire_array(v)
    when LogStash::Timestamp then { TS_KEY => v.time.to_i * 1_000_000_000 + v.time.nsec }
    when Float then v.nan? || v.infinite? ? v.to_s : v
    else v
    end
  end

  def wire_hash(h)
    out = nil
    h.each_pair do |k, x|
      next if x.instance_of?(String) && x.encoding == UTF_8 && x.valid_encoding?

      y = to_wire(x)
      next if y.equal?(x)

      out ||= h.dup
      out[k] = y
    end
    out || h
  end

  def wire_array(a)
    out = nil
    a.each_with_index do |x, i|
      y = to_wire(x)
      next if y.equal?(x)

      out ||= a.dup
      out[i] = y
    end
    out || a
  end

  def event_to_wire(e)
    return nil if e.cancelled?
    h = { 'f' => wire_hash(e.wire_data) }
    h['m'] = wire_hash(e.wire_meta) unless e.wire_meta.empty?
    h
  end

  def event_from_wire(w)
    LogStash::Event.wire(from_wire(w['f']), w['m'] ? from_wire(w['m']) : {})
  end

  def read_frame(io)
    hdr = io.read(4)
    return nil if hdr.nil? || hdr.bytesize < 4
    n = hdr.unpack1('N')
    body = io.read(n)
    raise 'short frame' if body.nil? || body.bytesize < n
    JSON.parse(body.force_encoding(Encoding::UTF_8))
  end

  def write_frame(io, obj)
    s = JSON.generate(obj)
    io.write([s.bytesize].pack('N'), s)
    io.flush
  end

  def describe(e) = "#{e.class}: #{e.message}"

  def load_script(path)
    ctx = Context.new
    ctx.instance_eval(File.read(path), path)
    raise LogStash::ConfigurationError, "#{path} does not define filter(event)" unless ctx.respond_to?(:filter)
    ctx
  end

  def run_script_tests(path)
    res = { 'passed' => 0, 'failed' => 0, 'errored' => 0, 'failures' => [] }
    load_script(path).__tests.each do |name, blk|
      begin
        t = ScriptTest.new(&blk)
        ctx = load_script(path)
        ctx.register(t.params) if ctx.respond_to?(:register)
        results = t.events.flat_map { |h| Array(ctx.filter(LogStash::Event.new(h))) }
        t.expects.each do |desc, b|
          if b.call(results)
            res['passed'] += 1
          else
            res['failed'] += 1
            res['failures'] << "#{name}: expected #{desc}"
          end
        end
      rescue Exception => e # rubocop:disable Lint/RescueException
        res['errored'] += 1
        res['failures'] << "#{name}: #{describe(e)}"
      end
    end
    res
  end

  # MapMeta is the aggregate filter's map_meta: what it knows of a task's
  # map; code may set timeout and inactivity_timeout.
  class MapMeta
    attr_accessor :creation_timestamp, :lastevent_timestamp, :difference_from_creation_to_now,
                  :difference_from_lastevent_to_now, :timeout, :inactivity_timeout, :task_id
  end

  def setup_aggregate(a)
    ctx = Context.new
    ctx.instance_eval("@codeblock = lambda { |event, map, map_meta, &new_event_block| #{a['code']}\n}", '(aggregate filter code)')
    @agg_code = ctx.instance_variable_get(:@codeblock)
    if a['timeout_code']
      ctx.instance_eval("@timeout_codeblock = lambda { |event| #{a['timeout_code']}\n}", '(aggregate filter timeout code)')
      @agg_timeout_code = ctx.instance_variable_get(:@timeout_codeblock)
    end
    @mode = :aggregate
    @ctx = ctx
    { 'ok' => true }
  rescue Exception => e # rubocop:disable Lint/RescueException
    { 'error' => describe(e) }
  end

  # Maps cross as Marshal dumps in base64: the engine keeps them as they
  # are, so they hold any Ruby value, as in Logstash.
  def load_map(s) = s.nil? || s.empty? ? {} : Marshal.load(s.unpack1('m0')) # rubocop:disable Security/MarshalLoad
  def dump_map(m) = [Marshal.dump(m)].pack('m0')

  def ns_time(n) = Time.at(n / 1_000_000_000, n % 1_000_000_000, :nsec).utc

  # aggregate runs the code on an event with its task's map.
  def aggregate(req)
    e = event_from_wire(req['event'])
    map = load_map(req['map'])
    m = req['meta']
    meta = MapMeta.new
    meta.task_id = m['task_id']
    meta.creation_timestamp = ns_time(m['created'])
    meta.lastevent_timestamp = ns_time(m['last'])
    meta.difference_from_creation_to_now = m['created_diff']
    meta.difference_from_lastevent_to_now = m['last_diff']
    meta.timeout = m['timeout']
    meta.inactivity_timeout = m['inactivity_timeout']
    news = []
    err = nil
    begin
      @agg_code.call(e, map, meta) { |n| news << n }
    rescue Exception => x # rubocop:disable Lint/RescueException
      err = describe(x)
      e.tag('_aggregateexception')
    end
    r = { 'o' => event_to_wire(e), 'n' => news.filter_map { |n| n.is_a?(LogStash::Event) ? event_to_wire(n) : nil },
          'map' => dump_map(map), 'timeout' => num(meta.timeout), 'inactivity_timeout' => num(meta.inactivity_timeout) }
    r['x'] = err if err
    r
  rescue Exception => x # rubocop:disable Lint/RescueException
    { 'error' => "aggregate code on task #{req.dig('meta', 'task_id').inspect}: #{describe(x)}" }
  end

  def num(v) = v.is_a?(Numeric) ? v.to_f : nil

  # timeout_event makes the event of a task's map (Logstash's
  # create_timeout_event).
  def timeout_event(req)
    e = LogStash::Event.new(load_map(req['map']))
    e.set(req['task_id_field'], req['task_id']) if req['task_id_field']
    (req['tags'] || []).each { |t| e.tag(e.sprintf(t)) }
    r = {}
    if @agg_timeout_code
      begin
        @agg_timeout_code.call(e)
      rescue Exception => x # rubocop:disable Lint/RescueException
        r['x'] = describe(x)
        e.tag('_aggregateexception')
      end
    end
    r['o'] = event_to_wire(e) || event_to_wire(e.tap(&:uncancel))
    r
  rescue Exception => x # rubocop:disable Lint/RescueException
    { 'error' => "making an event of the map of task #{req['task_id'].inspect}: #{describe(x)}" }
  end

  def setup(req)
    return setup_aggregate(req['aggregate']) if req['aggregate']

    if req['path']
      tests = run_script_tests(req['path'])
      unless tests['failures'].empty?
        return { 'error' => "script tests failed (#{tests['passed']} passed, #{tests['failed']} failed, " \
                            "#{tests['errored']} errored): #{tests['failures'].join('; ')}" }
      end
      ctx = load_script(req['path'])
      ctx.register(from_wire(req['params'] || {})) if ctx.respond_to?(:register)
      @mode = :path
      @ctx = ctx
      return { 'ok' => true, 'tests' => tests }
    end
    ctx = Context.new
    ctx.instance_eval(req['init'], '(ruby filter init)') if req['init']
    ctx.instance_eval("@codeblock = lambda { |event, &new_event_block| #{req['code']}\n}", '(ruby filter code)')
    @codeblock = ctx.instance_variable_get(:@codeblock)
    @mode = :code
    @ctx = ctx
    { 'ok' => true }
  rescue Exception => e # rubocop:disable Lint/RescueException
    { 'error' => describe(e) }
  end

  def filter_code(e, tag)
    news = []
    err = nil
    begin
      @codeblock.call(e) { |n| news << n }
    rescue Exception => x # rubocop:disable Lint/RescueException
      err = describe(x)
      e.tag(tag)
    end
    [e, news, err]
  end

  def filter_path(e, tag)
    results = @ctx.filter(e)
    raise "Custom script did not return an array from 'filter'. Only arrays may be returned!" unless results.is_a?(Array)
    results.each do |r|
      next if r.is_a?(LogStash::Event)

      raise "Custom script returned a non event object '#{r.inspect}'! You must an array of events from this function! To drop an event simply return nil."
    end
    kept = results.any? { |r| r.equal?(e) }
    e.cancel unless kept
    [e, results.reject { |r| r.equal?(e) }, nil]
  rescue Exception => x # rubocop:disable Lint/RescueException
    e.uncancel
    e.tag(tag)
    [e, [], describe(x)]
  end

  def serve(inp, out)
    tag = '_rubyexception'
    while (req = read_frame(inp))
      case req['op']
      when 'init'
        tag = req['tag'] || tag
        write_frame(out, setup(req))
      when 'filter'
        results = req['events'].map do |w|
          e = event_from_wire(w)
          e, news, err = @mode == :path ? filter_path(e, tag) : filter_code(e, tag)
          r = { 'o' => event_to_wire(e), 'n' => news.filter_map { |n| n.is_a?(LogStash::Event) ? event_to_wire(n) : nil } }
          r['x'] = err if err
          r
        rescue Exception => x # rubocop:disable Lint/RescueException
          { 'o' => w, 'n' => [], 'x' => "encoding the result: #{describe(x)}", 'tag' => true }
        end
        write_frame(out, { 'r' => results })
      when 'aggregate'
        write_frame(out, aggregate(req))
      when 'timeout_event'
        write_frame(out, timeout_event(req))
      else
        write_frame(out, { 'error' => "unknown op #{req['op'].inspect}" })
      end
    end
  end
end

$stdout.sync = true
PipelineRubyFilter.serve(IO.new(3, 'rb'), IO.new(4, 'wb'))
