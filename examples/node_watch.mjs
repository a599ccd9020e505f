// Prints every VM generation change genidd reports, with the `eventsource`
// package (npm install eventsource, or Debian's node-eventsource with
// NODE_PATH=/usr/share/nodejs); a runtime with a global EventSource needs none.
//
//   node node_watch.mjs [BASE_URL] [EVENTS]
//
// BASE_URL defaults to http://127.0.0.1:8080; with EVENTS it exits after that
// many generation events (the current state counts as the first). EventSource
// reconnects by itself after the server's retry: delay, sending Last-Event-ID.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const EventSource =
  globalThis.EventSource ??
  (() => {
    const library = require("eventsource");
    return library.EventSource ?? library; // version 3 exports a class, version 2 is one
  })();

const base = process.argv[2] ?? "http://127.0.0.1:8080";
let remaining = process.argv[3] ? Number(process.argv[3]) : -1;

const events = new EventSource(`${base}/v1/events`);
// Every event is named: onmessage never fires, listen for the names.
events.addEventListener("generation", (event) => {
  const state = JSON.parse(event.data);
  console.log(`seq=${state.seq} generation=${state.generation} id=${event.lastEventId}`);
  remaining -= 1;
  if (remaining === 0) events.close();
});
events.addEventListener("clock-disruption", (event) => {
  console.log(`clock disruption: marker ${JSON.parse(event.data).disruption_marker}`);
});
events.onerror = () => console.error("reconnecting");
