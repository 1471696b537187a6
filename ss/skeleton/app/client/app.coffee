# Client code: exports become SS.client.app.*; everything else stays private to this file.
# SS.client.app.init() is called once the socket is connected and the session is ready.

exports.init = ->
  setStatus 'connected', 'Connected'
  SS.socket.on 'disconnect', -> setStatus 'offline', 'Offline: reconnecting…'
  SS.socket.on 'reconnect', ->
    setStatus 'connected', 'Connected'
    refreshOnline()
  # Messages sent while this tab was offline are replayed on reconnect; if too many
  # were missed (or too long ago), say so rather than silently showing a gap.
  SS.socket.on 'recovery_failed', -> showNotice 'Some messages were missed while offline.'
  SS.server.app.init (message) ->
    document.getElementById('message').textContent = message
  SS.events.on 'newMessage', showMessage
  SS.events.on 'userJoined', (user) ->
    showNotice "#{user.name} joined"
    refreshOnline()
  SS.events.on 'userLeft', (user) ->
    showNotice "#{user.name} left"
    refreshOnline()
  document.getElementById('sign-in').addEventListener 'submit', signIn
  document.getElementById('chat').addEventListener 'submit', sendMessage
  document.getElementById('sign-out').addEventListener 'click', signOut
  SS.server.app.chat_state (state) ->
    if state.name then showChat(state.name) else showSignIn()
    showOnline state.online

exports.square = (number) ->
  SS.server.app.square number, (response) ->
    console.log "#{number} squared is #{response}"

byId = (id) -> document.getElementById(id)

setStatus = (state, text) ->
  status = byId('status')
  status.className = state
  status.textContent = text

showChat = (name) ->
  byId('sign-in').hidden = true
  byId('chat').hidden = false
  byId('who').textContent = name
  byId('text').focus()

showSignIn = ->
  byId('chat').hidden = true
  byId('sign-in').hidden = false
  byId('name').focus()

signIn = (event) ->
  event.preventDefault()
  SS.server.app.sign_in(byId('name').value)
    .then(showChat)
    .catch (error) -> showNotice error.message

signOut = (event) ->
  event.preventDefault()
  SS.server.app.sign_out().then(showSignIn)

sendMessage = (event) ->
  event.preventDefault()
  input = byId('text')
  return unless input.value.trim()
  SS.server.app.send_message(input.value)
    .then -> input.value = ''
    .catch (error) -> showNotice error.message

showMessage = (message) ->
  item = document.createElement('li')
  from = document.createElement('strong')
  from.textContent = message.from + ': '     # textContent: never HTML from other users
  item.appendChild(from)
  item.appendChild(document.createTextNode(message.text))
  appendItem item

showNotice = (text) ->
  item = document.createElement('li')
  item.className = 'notice'
  item.textContent = text
  appendItem item

appendItem = (item) ->
  list = byId('messages')
  list.appendChild(item)
  list.removeChild(list.firstChild) while list.children.length > 200
  item.scrollIntoView?(block: 'nearest')

refreshOnline = ->
  SS.server.app.chat_state ((state) -> showOnline state.online), {silent: true}

showOnline = (names) ->
  byId('online').textContent = if names.length then "Online: #{names.join(', ')}" else ''
