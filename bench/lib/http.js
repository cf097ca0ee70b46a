"use strict";
/** A JSON HTTP client and a TCP port check, for the runner. */
const http = require("node:http");
const net = require("node:net");

function httpJson(
  method,
  url,
  { body, headers = {}, agent, timeoutMs = 5000 } = {},
) {
  return new Promise((resolve, reject) => {
    const payload =
      body === undefined
        ? undefined
        : typeof body === "string"
          ? body
          : JSON.stringify(body);
    const req = http.request(url, {
      method,
      agent,
      headers: {
        ...headers,
        ...(payload
          ? {
              "Content-Type": "application/json",
              "Content-Length": Buffer.byteLength(payload),
            }
          : {}),
      },
      timeout: timeoutMs,
    });
    req.on("timeout", () =>
      req.destroy(new Error(`${method} ${url}: timeout after ${timeoutMs} ms`)),
    );
    req.on("error", reject);
    req.on("response", (res) => readJson(res, resolve, reject));
    req.end(payload);
  });
}

/** Resolves with {status, text, json} (json undefined when the body is not JSON). */
function readJson(res, resolve, reject) {
  const chunks = [];
  res.on("data", (c) => chunks.push(c));
  res.on("error", reject);
  res.on("end", () => {
    const text = Buffer.concat(chunks).toString("utf8");
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    resolve({ status: res.statusCode, text, json });
  });
}

function portOpen(port, host = "127.0.0.1", timeoutMs = 500) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

module.exports = { httpJson, portOpen };
