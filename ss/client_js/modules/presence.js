/* presence: SS.presence("room1"), who is in a channel with their metas, kept in sync with the
 * server (docs/protocol.md, "Presence"): the whole state first, then diffs. Emits join (a
 * user's first meta appeared), leave (their last one went), update (their metas changed
 * otherwise) and sync (a whole state arrived); error when the server refused the state. */

/* deps: send(message) -> true when sent now (false: offline, asked again on connect), log. */
function createPresence(deps) {
  var channels = {};   // name -> the object SS.presence(name) returns

  function createChannel(name) {
    var emitter = new Emitter();
    var metas = {};      // user id (a string) -> [meta, ...]
    var owners = {};     // connection_id -> user id
    var version = null;  // of the last state applied
    var awaiting = false; // asked for the state, not yet answered: diffs wait in pending
    var pending = [];
    var refused = false;

    function ask() {
      pending = [];
      refused = false;
      awaiting = deps.send({ type: "presence", channel: name });
    }

    function copy(source) {
      var out = {};
      Object.keys(source).forEach(function (uid) { out[uid] = source[uid].slice(); });
      return out;
    }

    function byConnection(list) {
      var out = {};
      (list || []).forEach(function (meta) { out[meta.connection_id] = JSON.stringify(meta); });
      return out;
    }

    /* Emit what changed for each user in `touched`, from `before` (uid -> metas) to now. */
    function emitChanges(touched, before) {
      Object.keys(touched).forEach(function (uid) {
        var was = before[uid] || [], now = metas[uid] || [];
        if (!was.length && now.length) return emitter.emit("join", uid, now.slice());
        var nowBy = byConnection(now);
        if (was.length && !now.length) return emitter.emit("leave", uid, was.slice());
        var wasBy = byConnection(was), changed = was.length !== now.length;
        Object.keys(nowBy).forEach(function (cid) { if (wasBy[cid] !== nowBy[cid]) changed = true; });
        if (changed) emitter.emit("update", uid, now.slice());
      });
    }

    function remove(cid) {
      var uid = owners[cid];
      if (uid === undefined) return;
      delete owners[cid];
      var list = metas[uid].filter(function (meta) { return meta.connection_id !== cid; });
      if (list.length) metas[uid] = list;
      else delete metas[uid];
    }

    /* Leaves first, then joins: an update is the leave and the join of one connection_id. */
    function applyDiff(msg) {
      var before = {}, touched = {};
      function touch(uid) {
        if (!touched[uid]) { touched[uid] = true; before[uid] = (metas[uid] || []).slice(); }
      }
      var leaves = msg.leaves || {}, joins = msg.joins || {};
      Object.keys(leaves).forEach(function (uid) {
        leaves[uid].forEach(function (meta) {
          var owner = owners[meta.connection_id];
          if (owner === undefined) return;   // not there (already gone, or never seen): nothing to do
          touch(owner);
          remove(meta.connection_id);
        });
      });
      Object.keys(joins).forEach(function (uid) {
        joins[uid].forEach(function (meta) {
          var cid = meta.connection_id, owner = owners[cid];
          touch(uid);
          if (owner === uid) {               // there already: replaced in place
            metas[uid] = metas[uid].map(function (m) { return m.connection_id === cid ? meta : m; });
            return;
          }
          if (owner !== undefined) { touch(owner); remove(cid); }
          (metas[uid] = metas[uid] || []).push(meta);
          owners[cid] = uid;
        });
      });
      emitChanges(touched, before);
    }

    function applyState(msg) {
      var before = metas, touched = {};
      metas = {};
      owners = {};
      Object.keys(msg.state || {}).forEach(function (uid) {
        metas[uid] = msg.state[uid].slice();
        metas[uid].forEach(function (meta) { owners[meta.connection_id] = uid; });
      });
      Object.keys(before).concat(Object.keys(metas)).forEach(function (uid) { touched[uid] = true; });
      emitChanges(touched, before);
    }

    function state(msg) {
      var waiting = pending;
      awaiting = false;
      pending = [];
      if (msg.error) {
        refused = true;
        deps.log("info", "ss: presence of channel '" + name + "' refused: " + msg.error.message);
        emitter.emit("error", msg.error);
        return;
      }
      version = msg.version;
      applyState(msg);
      waiting.forEach(function (d) { if (d.version > version) applyDiff(d); });
      emitter.emit("sync", copy(metas));
    }

    function diff(msg) {
      if (refused) ask();                    // a change in the channel: subscribed now
      if (awaiting) {
        if (pending.length < 10000) pending.push(msg);
        return;
      }
      if (version === null || msg.version <= version) return;   // no state yet, or the state holds it
      applyDiff(msg);
    }

    var api = {
      name: name,
      /* {user id: [meta, ...]}: a copy; each meta carries the connection_id of the tab it came from */
      list: function () { return copy(metas); },
      on: function (event, fn) { emitter.on(event, fn); return api; },
      off: function (event, fn) { emitter.off(event, fn); return api; },
      once: function (event, fn) { emitter.once(event, fn); return api; },
      /* ask for the whole state again (sync follows) */
      refresh: function () { ask(); return api; }
    };
    return { api: api, ask: ask, state: state, diff: diff };
  }

  /* SS.presence(name): the same object for a name every time; asks for the state on first use. */
  function channel(name) {
    if (typeof name !== "string" || !name) throw new TypeError("SS.presence needs a channel name, e.g. SS.presence('room1')");
    if (!Object.prototype.hasOwnProperty.call(channels, name)) {
      channels[name] = createChannel(name);
      channels[name].ask();
    }
    return channels[name].api;
  }

  function find(msg) {
    return typeof msg.channel === "string" && Object.prototype.hasOwnProperty.call(channels, msg.channel)
      ? channels[msg.channel] : null;
  }

  return {
    channel: channel,
    state: function (msg) { var c = find(msg); if (c) c.state(msg); },
    diff: function (msg) { var c = find(msg); if (c) c.diff(msg); },
    /* after every (re)connect: diffs were missed meanwhile (they are not kept), so ask again */
    connected: function () { Object.keys(channels).forEach(function (n) { channels[n].ask(); }); }
  };
}
