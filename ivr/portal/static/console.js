// News of this operator's calls arrive as server-sent events; the card is fetched from the
// server, which escapes every value, so nothing from a call is ever parsed as markup here.
(function () {
  const panel = document.getElementById("panel");
  const state = document.getElementById("state");
  // The states' words in the page's language, from the server's catalogues.
  const labels = JSON.parse(state.dataset.labels || "{}");
  const card = document.getElementById("card");
  let shown = card ? card.dataset.linkedid : "";
  const root = document.querySelector("main").dataset.root;
  const source = new EventSource(root + "/events");
  source.onopen = function () { document.body.dataset.live = "yes"; };
  source.addEventListener("call", async function (e) {
    const news = JSON.parse(e.data);
    state.textContent = labels[news.state] || news.state;
    state.dataset.state = news.state;
    const fresh = ["hello", "ringing", "connected", "preview"].includes(news.kind);
    // A call that rang and was taken elsewhere (or given up) leaves the card it popped.
    const gone = news.kind === "missed" && news.linkedid === shown;
    // Answered: the card's call buttons (hold, put through) come with the answer, and the
    // card may have popped before the call was on record. Fetched, not reloaded: a reload
    // would end a call the page itself is carrying (the browser phone).
    const answered = news.kind === "connected" && news.linkedid;
    // A put-through that started or ended (the caller back on the line): the card's
    // buttons change with it.
    const moved = news.kind === "put-through";
    if (gone || answered || moved || (fresh && news.linkedid && news.linkedid !== shown)) {
      const response = await fetch(root + "/panel", {credentials: "same-origin"});
      if (response.ok) {
        panel.innerHTML = await response.text();
        const card = document.getElementById("card");
        shown = card ? card.dataset.linkedid : "";
      }
    }
  });
})();
