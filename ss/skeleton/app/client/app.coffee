# Client code: exports become SS.client.app.*; everything else stays private to this file.
# SS.client.app.init() is called once the socket is connected and the session is ready.

exports.init = ->
  setStatus 'connected', 'Connected'
  SS.socket.on 'disconnect', -> setStatus 'offline', 'Offline: reconnecting…'
  SS.socket.on 'reconnect', -> setStatus 'connected', 'Connected'
  SS.server.app.init (message) ->
    document.getElementById('message').textContent = message
  SS.events.on 'newMessage', (message) -> showMessage(message)
  document.getElementById('sign-in').addEventListener 'submit', signIn
  document.getElementById('chat').addEventListener 'submit', sendMessage

exports.square = (number) ->
  SS.server.app.square number, (response) ->
    console.log "#{number} squared is #{response}"

setStatus = (state, text) ->
  status = document.getElementById('status')
  status.className = state
  status.textContent = text

signIn = (event) ->
  event.preventDefault()
  input = document.getElementById('name')
  SS.server.app.sign_in(input.value)
    .then (name) ->
      document.getElementById('sign-in').hidden = true
      document.getElementById('chat').hidden = false
      document.getElementById('who').textContent = name
      document.getElementById('text').focus()
    .catch (error) -> alert(error.message)

sendMessage = (event) ->
  event.preventDefault()
  input = document.getElementById('text')
  SS.server.app.send_message(input.value).then -> input.value = ''

showMessage = (message) ->
  item = document.createElement('li')
  from = document.createElement('strong')
  from.textContent = message.from + ': '
  item.appendChild(from)
  item.appendChild(document.createTextNode(message.text))
  document.getElementById('messages').appendChild(item)
