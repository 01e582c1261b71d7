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
