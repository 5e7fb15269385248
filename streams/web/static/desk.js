// The story desk's live updates. The server says which story changed (server-sent events on /events); the
// page fetches its own HTML again and swaps in the part under #live. HTML only ever comes from the server,
// which escaped every string in it, and goes in through DOMParser (scripts in it never run); the few
// strings this script writes itself go in as textContent.
"use strict";

(() => {
  const page = document.body.dataset.page;
  const storyId = document.body.dataset.storyId || null;
  const status = document.getElementById("status");
  const search = document.getElementById("search");
  const REFRESH_DELAY_MS = 250; // changes that arrive together are fetched once

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function versions(root) {
    const seen = new Map();
    for (const el of root.querySelectorAll("[data-key]")) seen.set(el.dataset.key, el.dataset.version);
    return seen;
  }

  let fetching = false;
  let pending = null;
  let again = false;

  async function refresh() {
    pending = null;
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    try {
      const response = await fetch(location.pathname + location.search, { cache: "no-store" });
      if (response.status === 404) {
        setStatus("static", "story no longer on this desk");
        return;
      }
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const next = fresh.getElementById("live");
      const current = document.getElementById("live");
      if (!next || !current) return;
      const before = versions(current);
      const open = new Set([...current.querySelectorAll("details[open]")].map((d) => d.closest("[id]")?.id));
      current.replaceChildren(...[...next.childNodes].map((node) => document.adoptNode(node)));
      for (const el of current.querySelectorAll("[data-key]")) {
        if (before.get(el.dataset.key) !== el.dataset.version) el.classList.add("fresh");
      }
      for (const details of current.querySelectorAll("details")) {
        if (open.has(details.closest("[id]")?.id)) details.open = true;
      }
      document.title = fresh.title;
      setStatus("live", `live · updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      setStatus("down", "update failed, retrying on the next change");
    } finally {
      fetching = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }

  function schedule() {
    if (pending === null) pending = setTimeout(refresh, REFRESH_DELAY_MS);
  }

  function concerns(notice) {
    if (page === "stories") return true;
    if (page === "missing") return notice.story_id === storyId;
    return notice.story_id === storyId || notice.absorbed_story_id === storyId;
  }

  const events = new EventSource("/events");
  let opened = false;
  events.onopen = () => {
    setStatus("live", "live");
    if (opened && page !== "missing") schedule(); // reconnected: what changed meanwhile (or that the story left)
    opened = true;
  };
  events.onerror = () => setStatus("down", "reconnecting…");
  events.onmessage = (message) => {
    let notice;
    try {
      notice = JSON.parse(message.data);
    } catch {
      return;
    }
    if (!concerns(notice)) return;
    if (page === "missing") location.reload(); // the story arrived: show its page
    else schedule();
  };

  if (page === "stories" && search) {
    let typing = null;
    const searchNow = () => {
      const query = search.value.trim();
      history.replaceState(null, "", query ? `/?q=${encodeURIComponent(query)}` : "/");
      schedule();
    };
    search.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(searchNow, 200);
    });
    search.form.addEventListener("submit", (event) => {
      event.preventDefault();
      searchNow();
    });
  }
})();
