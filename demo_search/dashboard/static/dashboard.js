// The dashboard's pages: draw the search page's figures, and poll the JSON API while a search runs.
"use strict";
const dashboard = (() => {
  const FINAL = new Set(["finished", "failed", "interrupted"]);
  const fixed = (value) => (value === null || value === undefined ? "-" : value.toFixed(4));

  async function getJson(url) {
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  function draw(figures) {
    for (const [id, figure] of Object.entries(figures)) {
      const element = document.getElementById(id);
      if (element) Plotly.react(element, figure.data, figure.layout, { responsive: true, displaylogo: false });
    }
  }

  function setText(id, value) {
    const element = document.getElementById(id);
    if (element) element.textContent = String(value);
  }

  // The search page: draw the embedded figures; while the search is not final, poll and redraw, and reload the
  // page (its tables) when a step was added or the search ended.
  function showSearch() {
    const summary = document.getElementById("summary");
    document.addEventListener("DOMContentLoaded", () => {
      draw(JSON.parse(document.getElementById("figures").textContent));
      if (summary.dataset.running !== "true") return;
      const name = summary.dataset.name;
      const steps = Number(summary.dataset.steps);
      const poll = async () => {
        try {
          const news = await getJson(`/api/search?name=${encodeURIComponent(name)}`);
          const listing = news.listing;
          setText("status", listing.status);
          document.getElementById("status").className = `status-${listing.status}`;
          setText("steps", listing.steps_done);
          setText("evaluations", listing.evaluations);
          setText("failed", listing.failed_evaluations);
          setText("computed-tokens", listing.computed_tokens);
          draw(news.figures);
          if (listing.steps_done !== steps || FINAL.has(listing.status)) {
            window.location.reload();
            return;
          }
        } catch (error) {
          console.warn("dashboard poll failed", error);
        }
        window.setTimeout(poll, Number(summary.dataset.pollMs));
      };
      window.setTimeout(poll, Number(summary.dataset.pollMs));
    });
  }

  // The list of searches: refresh every row's figures; reload when the set of searches changed.
  function pollSearches() {
    document.addEventListener("DOMContentLoaded", () => {
      const table = document.getElementById("searches");
      const poll = async () => {
        try {
          const searches = await getJson("/api/searches");
          const rows = new Map([...table.querySelectorAll("tbody tr")].map((row) => [row.dataset.name, row]));
          if (searches.length !== rows.size || searches.some((s) => !rows.has(s.name))) {
            window.location.reload();
            return;
          }
          for (const s of searches) {
            const row = rows.get(s.name);
            const status = row.querySelector(".status");
            status.textContent = s.status;
            status.className = `status status-${s.status}`;
            const progress = row.querySelector("progress");
            if (progress && s.progress !== null) progress.value = s.progress;
            row.querySelector(".steps").textContent =
              s.max_steps === null ? String(s.steps_done) : `${s.steps_done} / ${s.max_steps + 1}`;
            row.querySelector(".evaluations").textContent = String(s.evaluations);
            row.querySelector(".failed").textContent = String(s.failed_evaluations);
            row.querySelector(".score").textContent = fixed(s.last_step_score);
            row.querySelector(".tokens").textContent = String(s.computed_tokens);
          }
        } catch (error) {
          console.warn("dashboard poll failed", error);
        }
        window.setTimeout(poll, Number(table.dataset.pollMs));
      };
      window.setTimeout(poll, Number(table.dataset.pollMs));
    });
  }

  return { showSearch, pollSearches };
})();
