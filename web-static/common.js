// Shared by every page: the bearer token (from the page's #token=… fragment, never put into request URLs),
// JSON and binary fetches with it, downloads through blob URLs, and small helpers.
"use strict";
const Tessera = (() => {
  // The token arrives once as #token=…; it moves to this tab's sessionStorage and leaves the address bar and
  // the history at once, so it is not in bookmarks, shared links or the back list.
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get("token") || sessionStorage.getItem("tessera-token");
  if (hash.get("token")) {
    sessionStorage.setItem("tessera-token", hash.get("token"));
    hash.delete("token");
    const rest = hash.toString();
    history.replaceState(history.state, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  }
  const headers = token ? { Authorization: "Bearer " + token } : {};
  async function fail(r) {
    let e; try { e = (await r.json()).error; } catch (_) { e = null; }
    // The API's 401 text is written for the CLI (--token-file, TESSERA_TOKEN); a browser user needs the fragment.
    const msg = r.status === 401
      ? (token ? "the daemon refused this tab's token: open the page again with #token=THE_TOKEN (the daemon's token, from ROOT/tesserad.json or TESSERAD_TOKEN) at the end of its address"
               : "this daemon requires a token: add #token=THE_TOKEN (the daemon's token, from ROOT/tesserad.json or TESSERAD_TOKEN) to the end of this page's address")
      : e ? e.message : `${r.status} ${r.statusText}`;
    const err = new Error(msg); err.code = e && e.code; err.status = r.status; throw err;
  }
  const api = async (path) => { const r = await fetch(path, { headers }); if (!r.ok) await fail(r); return r.json(); };
  const bytes = async (path) => { const r = await fetch(path, { headers }); if (!r.ok) await fail(r); return r.arrayBuffer(); };
  const blobURL = async (path) => { const r = await fetch(path, { headers }); if (!r.ok) await fail(r); return URL.createObjectURL(await r.blob()); };
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const when = (d) => (d ? new Date(d).toLocaleString() : "–");
  // A link to another page: the token travels in sessionStorage (same tab), never in a URL.
  const link = (page) => page;
  // <a data-download="/api/…" data-name="file"> downloads with the token through a blob URL.
  document.addEventListener("click", async (ev) => {
    const a = ev.target.closest("a[data-download]");
    if (!a) return;
    ev.preventDefault();
    try {
      const url = await blobURL(a.dataset.download);
      const tmp = document.createElement("a"); tmp.href = url; tmp.download = a.dataset.name || "download"; document.body.appendChild(tmp); tmp.click(); tmp.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) { alert("download failed: " + e.message); }
  });
  // Errors reach the page (and the browser test) instead of vanishing.
  window.addEventListener("error", (e) => report(e.message));
  window.addEventListener("unhandledrejection", (e) => report(e.reason && e.reason.message ? e.reason.message : String(e.reason)));
  function report(msg) {
    let box = document.getElementById("errors");
    if (!box) { box = document.createElement("div"); box.id = "errors"; document.body.prepend(box); }
    box.textContent = "error: " + msg;
  }
  return { token, headers, api, bytes, blobURL, esc, when, link, report };
})();
