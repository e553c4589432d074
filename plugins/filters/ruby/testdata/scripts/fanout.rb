# One event per word; the original is kept only when it says so.
def filter(event)
  out = event.get('words').split.map { |w| LogStash::Event.new('word' => w, '@timestamp' => event.get('@timestamp')) }
  out.unshift(event) if event.get('keep')
  out
end
