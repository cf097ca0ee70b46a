"use strict";
/** Formatting of the bench's markdown: numbers, tables, notes, the run's context. */
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const mib = (b) => (b / 1048576).toFixed(1);
const kib = (b) => (b / 1024).toFixed(2);
const ms = (x) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
/** 12,345 */
const k = (x) =>
  Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a";
/** a CPU share (1 core = 1) as 42% */
const pctStr = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : "n/a");

const loadAvg = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
const LOAD_AT_START = loadAvg();

/** A markdown table: left-aligned first and last columns, numbers right-aligned between. */
function mdTable(head, rows) {
  const align = head.map((_, i) =>
    i === 0 || i === head.length - 1 ? "---" : "---:",
  );
  return [
    `| ${head.join(" | ")} |`,
    `|${align.join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/** Pushes `prefix + text` onto `notes` for every [condition, text] whose condition holds. */
function noteChecks(notes, prefix, checks) {
  for (const [cond, text] of checks) if (cond) notes.push(`${prefix}${text}`);
}

/** "Notes:" and one line per note of every column (`- <name>: <note>`), then `extra` lines. */
function notesBlock(cols, extra = []) {
  const notes = [];
  for (const c of cols)
    for (const n of c.notes) notes.push(`- ${c.name}: ${n}`);
  notes.push(...extra);
  return notes.length ? ["Notes:", ...notes, ""] : [];
}

/** The checkout's short commit, and whether src/ has uncommitted changes. */
function commitInfo(root) {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: root,
    })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], {
      cwd: root,
    })
      .toString()
      .trim();
    if (dirty) commit += " + uncommitted src changes";
  } catch {
    /* not a git checkout */
  }
  return commit;
}

/** Writes the report to <dir>/latest.md; returns the path. */
function writeResults(dir, md) {
  const file = path.join(dir, "latest.md");
  fs.writeFileSync(file, md);
  return file;
}

module.exports = {
  mib,
  kib,
  ms,
  k,
  pctStr,
  loadAvg,
  LOAD_AT_START,
  mdTable,
  noteChecks,
  notesBlock,
  commitInfo,
  writeResults,
};
