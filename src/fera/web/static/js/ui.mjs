// Small DOM helpers of the page: alerts, the log, toggle buttons, and the record the browser tests read.
export const $ = (id) => document.getElementById(id);

/** What the page did, for its tests: each list's push may be watched (tests/test_browser.py). */
export const record = { announcements: [], live: [], earcons: [], earconBytes: [], vibrations: [], events: [], rtts: [],
                        timings: [] };

export function event(name, detail = null) { record.events.push(detail === null ? name : { name, ...detail }); }

export function showAlert(text) { $("alert").textContent = text; }

export function logLine(text) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("log").prepend(li);
  while ($("log").children.length > 30) $("log").lastChild.remove();
}

export function setPressed(button, on) { button.setAttribute("aria-pressed", String(on)); }

export function megabytes(bytes) { return `${(bytes / 1e6).toFixed(1)} MB`; }
