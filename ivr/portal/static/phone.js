// The operator's phone in the console page, unless they chose a desk phone at login: JsSIP
// (vendored, jssip-*.min.js) registers with Asterisk through the console's own WebSocket relay, with a password issued for this login
// (fetched from the engine, never stored). Calls ring here; the card pops from the console's
// own events (console.js), as for a desk phone.
(function () {
  const box = document.getElementById("phone");
  if (!box || !window.JsSIP) { return; }
  const root = document.querySelector("main").dataset.root;
  const $ = function (id) { return document.getElementById(id); };
  const status = $("phone-status");
  const words = JSON.parse(box.dataset.words || "{}");
  const remote = $("phone-audio");
  const micSelect = $("phone-mic");
  const meter = $("phone-level");
  let ua = null;
  let session = null;
  let local = null;  // the microphone's stream while a call is up
  let meterStop = null;
  let stopping = false;
  let micAsked = false;
  const CHOICE = "ivr_console_phone";  // set at login: "page" (the default) or "desk"

  function say(key) {
    status.textContent = words[key] || key;
    box.dataset.phone = key;
  }

  function buttons() {
    const ringing = session !== null && !session.isEstablished() && !session.isEnded();
    const up = session !== null && session.isEstablished();
    $("phone-answer").hidden = !ringing;
    $("phone-hangup").hidden = session === null;
    $("phone-hold").hidden = !up;
    $("phone-mute").hidden = !up;
    $("phone-keys").hidden = !up;
    if (up) {
      const held = session.isOnHold().local;
      $("phone-hold").textContent = held ? words.resume : words.hold;
      $("phone-hold").dataset.held = held ? "yes" : "no";
      const muted = session.isMuted().audio;
      $("phone-mute").textContent = muted ? words.unmute : words.mute;
      $("phone-mute").dataset.muted = muted ? "yes" : "no";
    }
  }

  async function microphones() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const chosen = micSelect.value;  // read after the wait: a choice made meanwhile stays
    micSelect.replaceChildren();
    devices.filter(function (d) { return d.kind === "audioinput"; }).forEach(function (d, i) {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || ("microphone " + (i + 1));
      micSelect.appendChild(option);
    });
    if (chosen) { micSelect.value = chosen; }
  }

  function level(stream) {
    // The microphone's level while a call is up: the operator sees they are heard.
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Uint8Array(analyser.fftSize);
    const timer = setInterval(function () {
      analyser.getByteTimeDomainData(samples);
      let peak = 0;
      for (const s of samples) { peak = Math.max(peak, Math.abs(s - 128)); }
      meter.value = peak / 128;
    }, 100);
    return function () { clearInterval(timer); meter.value = 0; context.close(); };
  }

  function ended() {
    if (meterStop) { meterStop(); meterStop = null; }
    if (local) { local.getTracks().forEach(function (t) { t.stop(); }); local = null; }
    session = null;
    remote.srcObject = null;
    buttons();
  }

  function incoming(e) {
    if (e.originator !== "remote") { return; }
    if (session !== null) {  // one call at a time: the queue sends another elsewhere
      e.session.terminate({status_code: 486});
      return;
    }
    session = e.session;
    session.on("peerconnection", function (p) {
      p.peerconnection.addEventListener("track", function (t) {
        remote.srcObject = t.streams[0] || new MediaStream([t.track]);
      });
    });
    session.on("accepted", buttons);
    session.on("confirmed", buttons);
    session.on("hold", buttons);
    session.on("unhold", buttons);
    session.on("muted", buttons);
    session.on("unmuted", buttons);
    session.on("ended", ended);
    session.on("failed", ended);
    buttons();
    // A campaign call: the contact is already on the line and the legal silence allows no
    // time for a click (the intercom header, as desk phones take it).
    if (/answer-after=0/.test(e.request.getHeader("Call-Info") || "")) { answer(); }
  }

  function microphone() {
    const audio = micSelect.value ? {deviceId: {exact: micSelect.value}} : true;
    return navigator.mediaDevices.getUserMedia({audio: audio, video: false});
  }

  async function switchMicrophone() {
    // Another microphone chosen during a call: its track replaces the one being sent.
    if (!session || !session.connection || !local) { return; }
    const next = await microphone();
    const track = next.getAudioTracks()[0];
    const muted = session.isMuted().audio;
    track.enabled = !muted;
    for (const sender of session.connection.getSenders()) {
      if (sender.track && sender.track.kind === "audio") { await sender.replaceTrack(track); }
    }
    if (meterStop) { meterStop(); }
    local.getTracks().forEach(function (t) { t.stop(); });
    local = next;
    meterStop = level(local);
  }

  async function answer() {
    if (session === null) { return; }
    local = await microphone();
    meterStop = level(local);
    session.answer({mediaStream: local, rtcOfferConstraints: {offerToReceiveAudio: true}});
    microphones();  // labels are shown once the microphone is allowed
  }

  async function credential() {
    const response = await fetch(root + "/phone", {credentials: "same-origin", cache: "no-store"});
    return response.ok ? response.json() : null;
  }

  async function allowMicrophone() {
    // Asked once at registration, so that the microphones have names to choose from before
    // the first call (and a missing microphone shows at once).
    try {
      const s = await navigator.mediaDevices.getUserMedia({audio: true, video: false});
      s.getTracks().forEach(function (t) { t.stop(); });
    } catch (e) { /* the call's own request will say it */ }
    microphones();
  }

  // One page per browser is the phone. Two pages registering the same phone would take the
  // calls from each other in turn (the last registration wins), so a page that starts its
  // phone claims it from the others of this browser: they stop theirs and say so, with a
  // button to take it back; a page with a call up keeps it, and the claimer waits instead.
  const tab = Math.random().toString(36).slice(2);
  const others = window.BroadcastChannel ? new BroadcastChannel("ivr-phone" + root) : null;
  let elsewhere = false;
  function claim() {
    if (others === null) { return Promise.resolve(true); }
    return new Promise(function (resolve) {
      function refused(e) {
        if (e.data.kind === "busy" && e.data.to === tab) { settle(false); }
      }
      function settle(free) {
        clearTimeout(timer);
        others.removeEventListener("message", refused);
        resolve(free);
      }
      const timer = setTimeout(function () { settle(true); }, 400);
      others.addEventListener("message", refused);
      others.postMessage({kind: "claim", from: tab});
    });
  }
  const ASIDE = "ivr_phone_aside";  // this tab's own memory: a reload keeps it aside
  function aside() {
    // Another page of this browser is the phone now.
    sessionStorage.setItem(ASIDE, "yes");
    elsewhere = true;
    stopping = true;
    if (ua) { ua.stop(); ua = null; }
    say("elsewhere");
    $("phone-here").hidden = false;
  }
  if (others !== null) {
    others.addEventListener("message", function (e) {
      if (e.data.kind !== "claim" || e.data.from === tab) { return; }
      if (session !== null) {
        others.postMessage({kind: "busy", to: e.data.from});
      } else if (ua !== null || restarting) {
        if (restarting) { clearTimeout(restarting); restarting = null; }
        aside();
      }
    });
  }

  async function start() {
    elsewhere = false;
    $("phone-here").hidden = true;
    if (!(await claim())) { aside(); return; }
    stopping = false;
    const c = await credential();
    if (c === null || stopping) { if (!elsewhere) { say("offline"); } return; }
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new JsSIP.WebSocketInterface(scheme + location.host + root + "/phone/ws");
    ua = new JsSIP.UA({
      sockets: [socket],
      uri: c.uri,
      authorization_user: c.user,
      password: c.password,
      register: true,
      register_expires: c.expires,
      session_timers: false,
      user_agent: "ivr-console",
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 15,
    });
    ua.on("registered", function () {
      say("registered");
      if (!micAsked) { micAsked = true; allowMicrophone(); }
    });
    ua.on("unregistered", function () { if (!stopping) { say("offline"); } });
    ua.on("disconnected", function () { if (!stopping) { say("reconnecting"); } });
    ua.on("registrationFailed", function (e) {
      // A password that no longer works (the engine restarted): ask for this login's own.
      say("offline");
      const refused = e.response && [401, 403].includes(e.response.status_code);
      if (refused && !stopping) { restart(); }
    });
    ua.on("newRTCSession", incoming);
    say("connecting");
    ua.start();
  }

  let restarting = null;
  function restart() {
    if (restarting) { return; }
    restarting = setTimeout(function () {
      restarting = null;
      if (ua) { ua.stop(); ua = null; }
      start();
    }, 3000);
  }

  $("phone-answer").addEventListener("click", answer);
  $("phone-here").addEventListener("click", function () {
    sessionStorage.removeItem(ASIDE);
    start();
  });
  micSelect.addEventListener("change", switchMicrophone);
  navigator.mediaDevices.addEventListener("devicechange", microphones);
  $("phone-hangup").addEventListener("click", function () { if (session) { session.terminate(); } });
  $("phone-hold").addEventListener("click", function () {
    if (!session) { return; }
    if (session.isOnHold().local) { session.unhold(); } else { session.hold(); }
  });
  $("phone-mute").addEventListener("click", function () {
    if (!session) { return; }
    if (session.isMuted().audio) { session.unmute({audio: true}); } else { session.mute({audio: true}); }
  });
  document.querySelectorAll("#phone-keys button").forEach(function (key) {
    key.addEventListener("click", function () {
      if (session) { session.sendDTMF(key.dataset.key, {duration: 160}); }
    });
  });
  // While the page is the phone, the console's forms (the card's call, hold, put through,
  // outcome; the state) must not load another page: that would end a call the page carries,
  // and drop the registration for the moment the new page takes to register, when a call
  // that the operator has just asked for (a preview's call) would find no phone. They are
  // sent from here and the answer's card, state and recent calls shown in place (the
  // server's HTML, escaped there, as console.js shows it). A search opens in another tab.
  // Logging out still leaves the page, and so does the language when no call is up.
  document.addEventListener("submit", async function (e) {
    const form = e.target;
    const phone = session !== null || (ua !== null && ua.isRegistered());
    if (!phone || form.querySelector("#logout, #logout-all")) { return; }
    if (session === null && form.querySelector("#language")) { return; }
    if (form.method === "get") { form.target = "_blank"; return; }
    e.preventDefault();
    const response = await fetch(form.action, {
      method: "POST", body: new FormData(form, e.submitter), credentials: "same-origin",
    });
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const panel = fresh.getElementById("panel");
    if (!panel) { location.assign(response.url); return; }  // not the console (logged out)
    // The card only for its own forms: a pause chosen while writing the outcome keeps what
    // is being written.
    if (form.closest("#panel")) {
      $("panel").innerHTML = panel.innerHTML;
      // The next field takes the keys, as on a new page (a script is run from the keyboard).
      const first = $("panel").querySelector("[autofocus]");
      if (first) { first.focus(); }
    }
    const state = fresh.getElementById("state");
    if (state) {
      $("state").textContent = state.textContent;
      $("state").dataset.state = state.dataset.state;
    }
    const recent = fresh.getElementById("recent");
    if (recent) { $("recent").innerHTML = recent.innerHTML; }
    ["problem", "saved"].forEach(function (id) {  // the notes above the card
      const shown = $(id);
      if (shown) { shown.closest("section").remove(); }
      const note = fresh.getElementById(id);
      if (note) { $("panel").before(note.closest("section")); }
    });
  });
  // Logging out unregisters first (the engine also revokes this login's password).
  document.querySelectorAll("#logout, #logout-all").forEach(function (button) {
    button.form.addEventListener("submit", function () {
      stopping = true;
      if (ua) { ua.stop(); }
    });
  });
  window.ivrPhone = {
    // For the browser tests: the call's RTP statistics (bytes in and out).
    stats: async function () {
      if (!session || !session.connection) { return null; }
      const report = await session.connection.getStats();
      const out = {received: 0, sent: 0};
      report.forEach(function (s) {
        if (s.type === "inbound-rtp" && s.kind === "audio") { out.received += s.bytesReceived; }
        if (s.type === "outbound-rtp" && s.kind === "audio") { out.sent += s.bytesSent; }
      });
      return out;
    },
    // The microphone whose sound the call sends (its device id), or null.
    microphone: function () {
      if (!session || !session.connection) { return null; }
      const sender = session.connection.getSenders().find(function (x) {
        return x.track && x.track.kind === "audio";
      });
      return sender ? sender.track.getSettings().deviceId : null;
    },
  };
  // Whether this page is the operator's phone is chosen at login (remembered on this
  // browser) and may be changed here: at the desk the desk phone rings, at home the page
  // does (or both).
  const toggle = $("phone-on");
  const chosen = document.cookie.split("; ").find(function (c) { return c.startsWith(CHOICE + "="); });
  toggle.checked = !chosen || chosen.split("=")[1] !== "desk";
  toggle.addEventListener("change", function () {
    document.cookie = CHOICE + "=" + (toggle.checked ? "page" : "desk") + "; path=" + root +
      "; max-age=31536000; samesite=strict";
    if (toggle.checked) {
      sessionStorage.removeItem(ASIDE);
      start();
    } else {
      stopping = true;
      if (session) { session.terminate(); }
      if (ua) { ua.stop(); ua = null; }
      $("phone-here").hidden = true;
      say("offline");
    }
  });
  microphones();
  buttons();
  if (toggle.checked && sessionStorage.getItem(ASIDE)) {
    aside();
  } else if (toggle.checked) {
    start();
  }
})();
