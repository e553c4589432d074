def register(params)
  @field = params['field']
  @multiplier = params['multiplier']
end

def filter(event)
  event.set(@field, event.get(@field) * @multiplier)
  [event]
end

test 'multiplies' do
  parameters { { 'field' => 'x', 'multiplier' => 2 } }
  in_event { { 'x' => 21 } }
  expect('one event') { |events| events.size == 1 }
  expect('doubled') { |events| events.first.get('x') == 42 }
end
