// The rycos monitor page: live from /api/events, the task table from /api/tasks.
// Everything the server says is put in the page as text (textContent), never as markup.
"use strict";

const view = {
  sort: "id",
  order: "asc",
  offset: 0,
  limit: 100,
  name: "",
  state: "all",
  selected: null,
  matched: 0,
};

// The token for actions comes in the URL's fragment (which browsers never send), stays in this
// tab only, and is taken out of the address bar.
(function takeToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem("rycos-monitor-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
})();
const token = () => sessionStorage.getItem("rycos-monitor-token");

const $ = (id) => document.getElementById(id);

function text(element, value) {
  element.textContent = value === null || value === undefined ? "–" : String(value);
}

function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.floor((ms % 3_600_000) / 60_000)} min`;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function row(cells, attributes = {}) {
  const tr = document.createElement("tr");
  for (const [key, value] of Object.entries(attributes)) tr.setAttribute(key, value);
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.appendChild(cell);
    else text(td, cell);
    tr.appendChild(td);
  }
  return tr;
}

function badge(state) {
  const span = document.createElement("span");
  span.className = `badge ${state}`;
  span.textContent = state;
  return span;
}

function replaceRows(table, rows) {
  const body = table.querySelector("tbody");
  body.replaceChildren(...rows);
}

// --- The live summary -------------------------------------------------------------------

function showSummary(summary) {
  text($("live-tasks"), summary.live_tasks);
  for (const state of ["running", "queued", "receiving", "suspended", "waiting"]) {
    text($(`count-${state}`), summary.states[state]);
  }
  text($("queued-messages"), summary.queued_messages);
  text($("timers"), summary.timers);
  text($("uptime"), `up ${duration(summary.uptime_ms)}`);
  replaceRows(
    $("workers"),
    summary.workers.map((w) =>
      row([
        `#${w.index}`,
        badge(w.parked ? "parked" : w.running ? "running" : "searching"),
        w.polls,
        w.steals,
        w.unparks,
        w.queued,
      ]),
    ),
  );
  showNode(summary.node);
}

function showNode(node) {
  $("node").hidden = !node;
  if (!node) return;
  text($("node-location"), node.location);
  replaceRows(
    $("peers"),
    node.peers.map((p) =>
      row([
        p.location,
        badge(p.state),
        p.rtt_us === null ? null : `${(p.rtt_us / 1000).toFixed(2)} ms`,
        bytes(p.bytes_in),
        bytes(p.bytes_out),
        p.messages_in,
        p.messages_out,
        bytes(p.unacknowledged),
      ]),
    ),
  );
  replaceRows($("names"), node.names.map((n) => row([n.name, n.task, n.type_name])));
}

function connect() {
  const events = new EventSource("/api/events");
  events.addEventListener("summary", (event) => {
    const status = $("status");
    status.textContent = "live";
    status.className = "status live";
    showSummary(JSON.parse(event.data));
    refreshTasks();
    if (view.selected !== null) refreshDetail();
  });
  events.onerror = () => {
    const status = $("status");
    status.textContent = "reconnecting…";
    status.className = "status connecting";
  };
}

// --- The task table ---------------------------------------------------------------------

let tasksInFlight = false;
let tasksAgain = false;

async function refreshTasks() {
  if (tasksInFlight) {
    tasksAgain = true;
    return;
  }
  tasksInFlight = true;
  try {
    const query = new URLSearchParams({
      sort: view.sort,
      order: view.order,
      offset: view.offset,
      limit: view.limit,
      state: view.state,
    });
    if (view.name) query.set("name", view.name);
    const response = await fetch(`/api/tasks?${query}`);
    if (response.ok) showTasks(await response.json());
  } catch (e) {
    // The event stream reports the connection; the next summary tries again.
  } finally {
    tasksInFlight = false;
    if (tasksAgain) {
      tasksAgain = false;
      refreshTasks();
    }
  }
}

function showTasks(page) {
  view.matched = page.matched;
  const last = Math.min(page.offset + page.tasks.length, page.matched);
  text($("page"), page.matched === 0 ? "no tasks" : `${page.offset + 1}–${last} of ${page.matched}`);
  $("prev").disabled = page.offset === 0;
  $("next").disabled = last >= page.matched;
  replaceRows(
    $("tasks"),
    page.tasks.map((t) => {
      const tr = row(
        [
          t.id,
          t.name,
          badge(t.state),
          t.mailbox,
          t.polls,
          duration(t.age_ms),
          duration(t.idle_ms),
          t.spawned_at,
        ],
        { "data-id": t.id },
      );
      if (t.id === view.selected) tr.classList.add("selected");
      tr.addEventListener("click", () => select(t.id));
      return tr;
    }),
  );
  for (const th of document.querySelectorAll("#tasks th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === view.sort);
    th.classList.toggle("descending", th.dataset.sort === view.sort && view.order === "desc");
  }
}

for (const th of document.querySelectorAll("#tasks th[data-sort]")) {
  th.addEventListener("click", () => {
    if (view.sort === th.dataset.sort) view.order = view.order === "asc" ? "desc" : "asc";
    else {
      view.sort = th.dataset.sort;
      view.order = "asc";
    }
    view.offset = 0;
    refreshTasks();
  });
}

let filterTimer = null;
$("filter-name").addEventListener("input", (event) => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    view.name = event.target.value.trim();
    view.offset = 0;
    refreshTasks();
  }, 150);
});
$("filter-state").addEventListener("change", (event) => {
  view.state = event.target.value;
  view.offset = 0;
  refreshTasks();
});
$("prev").addEventListener("click", () => {
  view.offset = Math.max(0, view.offset - view.limit);
  refreshTasks();
});
$("next").addEventListener("click", () => {
  if (view.offset + view.limit < view.matched) view.offset += view.limit;
  refreshTasks();
});

// --- A task's detail --------------------------------------------------------------------

function select(id) {
  view.selected = id;
  for (const tr of document.querySelectorAll("#tasks tbody tr")) {
    tr.classList.toggle("selected", Number(tr.dataset.id) === id);
  }
  text($("detail-note"), "");
  refreshDetail();
}

async function refreshDetail() {
  const id = view.selected;
  const detail = $("detail");
  detail.hidden = false;
  text($("detail-id"), id);
  const response = await fetch(`/api/tasks/${id}`);
  if (view.selected !== id) return;
  const fields = $("detail-fields");
  if (!response.ok) {
    fields.replaceChildren();
    text($("detail-note"), "This task has ended.");
    $("terminate").hidden = true;
    return;
  }
  const task = await response.json();
  const entries = [
    ["name", task.name],
    ["state", task.state],
    ["mailbox", task.mailbox === null ? "no mailbox" : `${task.mailbox} message(s)`],
    ["polls", task.polls],
    ["age", duration(task.age_ms)],
    ["idle for", duration(task.idle_ms)],
    ["daemon", task.daemon ? "yes" : "no"],
    ["monitors and names", task.exit_hooks],
    ["spawned at", task.spawned_at],
  ];
  fields.replaceChildren(
    ...entries.flatMap(([label, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      text(dd, value);
      dd.dataset.field = label;
      return [dt, dd];
    }),
  );
  $("terminate").hidden = !token();
}

$("terminate").addEventListener("click", async () => {
  const id = view.selected;
  const response = await fetch(`/api/tasks/${id}/terminate`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token()}` },
  });
  const answer = await response.json();
  text($("detail-note"), response.ok ? (answer.terminated ? "Terminated." : "It had ended.") : answer.error);
  refreshTasks();
});

connect();
refreshTasks();
