// Runs the web UI's own script (taken from the page the server serves) against the real
// API, in Node with a minimal document: enough elements, events, location and history for
// what the page does. It plays the steps named in a JSON file and prints what a user would
// see after each one, as JSON lines, for the Python test to judge.
//
// node ui_harness.js BASE_URL PAGE_FILE STEPS_FILE
"use strict";
const fs = require("fs");
const vm = require("vm");

const [base, pageFile, stepsFile] = process.argv.slice(2);
const page = fs.readFileSync(pageFile, "utf8");
const steps = JSON.parse(fs.readFileSync(stepsFile, "utf8"));

class Element {
  constructor(tag, attrs = {}) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.listeners = {};
    this.ownText = "";
    this.value = "";
    this.className = "";
    this.hidden = false;
    Object.assign(this, attrs);
  }
  get textContent() { return this.ownText + this.children.map((c) => c.textContent).join(""); }
  set textContent(v) { this.ownText = String(v); this.children = []; }
  appendChild(child) { this.children.push(child); return child; }
  append(...children) { this.children.push(...children); }
  replaceChildren(...children) { this.children = children; this.ownText = ""; }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  fire(type, event = {}) {
    for (const fn of this.listeners[type] || []) { fn(Object.assign({ target: this, preventDefault() {} }, event)); }
  }
}

// The elements the page's script looks up, with the attributes its HTML gives them.
const ids = {};
for (const match of page.matchAll(/<(\w+)[^>]*\bid="([^"]+)"([^>]*)>/g)) {
  ids[match[2]] = new Element(match[1], { id: match[2], hidden: /\shidden[\s>]/.test(match[0]) });
}
const form = ids.run;
form.action = new Element("select");
form.params = new Element("input");
const windowListeners = {};
let hash = "";
const location = {
  pathname: "/ui/",
  get hash() { return hash; },
  set hash(v) { hash = v.startsWith("#") || v === "" ? v : "#" + v; (windowListeners.hashchange || []).forEach((f) => f()); },
};
const storage = {};
let ticks = [];
const context = {
  document: {
    getElementById: (id) => ids[id] || null,
    createElement: (tag) => new Element(tag),
    querySelector: (sel) => (sel === "#run select" ? form.action : null),
  },
  localStorage: { getItem: (k) => (k in storage ? storage[k] : null), setItem: (k, v) => { storage[k] = String(v); } },
  location,
  history: { replaceState: (_s, _t, url) => { const at = url.indexOf("#"); hash = at >= 0 ? url.slice(at) : ""; } },
  addEventListener: (type, fn) => { (windowListeners[type] = windowListeners[type] || []).push(fn); },
  fetch: (path, options) => fetch(base + path, options),
  setInterval: (fn) => { ticks.push(fn); return ticks.length; },
  URLSearchParams, JSON, Number, String, Error, Promise, console, encodeURIComponent, decodeURIComponent,
};
context.window = context;

const settle = () => new Promise((resolve) => setTimeout(resolve, 400));

function seen() {
  const rows = ids.executions.children.map((row) => row.children.map((c) => c.textContent));
  return {
    message: ids.message.hidden ? "" : (ids["message-text"] || ids.message).textContent,
    message_hidden: ids.message.hidden,
    title: ids["detail-title"].textContent,
    detail: ids.detail.textContent,
    hash,
    rows,
    selected_rows: ids.executions.children.filter((r) => r.className.includes("selected")).length,
  };
}

async function main() {
  const script = /<script>([\s\S]*)<\/script>/.exec(page)[1];
  for (const step of steps) {
    if (step.do === "open") {
      if (step.key) { storage["levante-api-key"] = step.key; }
      hash = step.hash || "";
      vm.runInNewContext(script, context);
    } else if (step.do === "tick") {
      for (const fn of ticks) { fn(); }
    } else if (step.do === "run") {
      form.action.value = step.action;
      form.params.value = step.params;
      form.fire("submit");
    } else if (step.do === "dismiss") {
      if (ids.dismiss) { ids.dismiss.fire("click"); }
    } else if (step.do === "click_row") {
      ids.executions.children[step.index].fire("click");
    } else if (step.do === "navigate") {
      location.hash = step.hash;
    }
    await settle();
    console.log(JSON.stringify({ step: step.do, ...seen() }));
  }
}

main().catch((error) => { console.error(error.stack || String(error)); process.exit(1); });
