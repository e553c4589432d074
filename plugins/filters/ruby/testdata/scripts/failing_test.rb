def filter(event)
  [event]
end

test 'drops everything' do
  in_event { { 'message' => 'x' } }
  expect('no events') { |events| events.empty? }
end
