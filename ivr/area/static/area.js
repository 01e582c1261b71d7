// The area updates by itself: a server-sent event comes when a call of this client is stored,
// with the unread count. The list's first page is fetched again from the server (which
// escapes every value): nothing from a call is ever parsed as markup here.
(function () {
  const header = document.querySelector("header[data-root]");
  if (!header) return;
  const root = header.dataset.root;
  const badge = document.getElementById("unread");
  const rows = document.getElementById("rows");
  const source = new EventSource(root + "/events");
  source.onopen = function () { document.body.dataset.live = "yes"; };
  source.addEventListener("area", async function (e) {
    const news = JSON.parse(e.data);
    if (badge) badge.textContent = news.unread.toLocaleString(document.documentElement.lang);
    if (news.kind !== "call" || !rows) return;
    if (rows.dataset.live === "yes") {
      const response = await fetch(root + "/calls?part=rows", {credentials: "same-origin"});
      if (response.ok) rows.innerHTML = await response.text();
    } else {
      document.getElementById("live-note").hidden = false;
    }
  });
})();

// A message opened in a browser is read: the page says so with a POST of its own (with the
// session's token), as showing it (a GET) changes nothing.
(function () {
  const call = document.querySelector("#call[data-unread='yes']");
  const header = document.querySelector("header[data-root]");
  if (!call || !header) return;
  const body = new URLSearchParams({read: "1"});
  fetch(header.dataset.root + "/calls/" + encodeURIComponent(call.dataset.linkedid) + "/read", {
    method: "POST", credentials: "same-origin", redirect: "manual", body: body,
    headers: {"X-CSRF-Token": call.dataset.csrf},
  }).then(function () { document.body.dataset.read = "yes"; });
})();
