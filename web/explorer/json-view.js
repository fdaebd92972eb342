// JSON shown over its original characters: the highlighter only wraps the stored text in spans,
// so `1.0` stays `1.0` and 20-digit integers keep their digits. "indent" re-spaces between tokens
// without changing one and makes every object and array foldable; every key carries its path
// (`$[0].positivePrompt`) for "copy path". Fold toggles hold no text, so a pane's textContent is
// always exactly the stored text (raw) or that text re-spaced (indent).

import { el } from './util.js';

const TOKEN =
  /("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(true|false|null)|([{}[\]:,])|(\s+)|([^\s"{}[\]:,]+)/gy;
const LONG_STRING = 400;

export function tokenize(text) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  let m;
  while (TOKEN.lastIndex < text.length && (m = TOKEN.exec(text))) {
    if (m[1] !== undefined) tokens.push({ t: 's', v: m[1] });
    else if (m[2] !== undefined) tokens.push({ t: 'n', v: m[2] });
    else if (m[3] !== undefined) tokens.push({ t: 'l', v: m[3] });
    else if (m[4] !== undefined) tokens.push({ t: 'p', v: m[4] });
    else if (m[5] !== undefined) tokens.push({ t: 'w', v: m[5] });
    else tokens.push({ t: 'x', v: m[6] });
  }
  if (TOKEN.lastIndex < text.length) tokens.push({ t: 'x', v: text.slice(TOKEN.lastIndex) });
  markKeysAndPaths(tokens);
  return tokens;
}

/** A string followed by ':' is a key; each key gets the path of its value. */
function markKeysAndPaths(tokens) {
  const stack = [];
  const pathOfNext = () => {
    const top = stack[stack.length - 1];
    if (!top) return '$';
    return top.kind === '[' ? `${top.path}[${top.index}]` : (top.keyPath ?? top.path);
  };
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (tok.t === 'w') continue;
    const top = stack[stack.length - 1];
    if (tok.t === 's') {
      let j = i + 1;
      while (j < tokens.length && tokens[j].t === 'w') j++;
      if (tokens[j] && tokens[j].v === ':' && top && top.kind === '{') {
        tok.t = 'k';
        let name;
        try {
          name = JSON.parse(tok.v);
        } catch {
          name = tok.v;
        }
        top.keyPath = /^[A-Za-z_$][\w$]*$/.test(name) ? `${top.path}.${name}` : `${top.path}[${JSON.stringify(name)}]`;
        tok.path = top.keyPath;
        continue;
      }
    }
    if (tok.t === 'p' && (tok.v === '{' || tok.v === '[')) {
      stack.push({ kind: tok.v, path: pathOfNext(), index: 0, keyPath: null });
    } else if (tok.t === 'p' && (tok.v === '}' || tok.v === ']')) {
      stack.pop();
    } else if (tok.t === 'p' && tok.v === ',' && top && top.kind === '[') {
      top.index++;
    }
  }
}

/** Whitespace between tokens for reading; tokens themselves untouched. */
export function reindent(tokens) {
  const out = [];
  let depth = 0;
  const real = tokens.filter((t) => t.t !== 'w');
  const nl = () => ({ t: 'w', v: `\n${'  '.repeat(depth)}` });
  for (let i = 0; i < real.length; i++) {
    const tok = real[i];
    const next = real[i + 1];
    if (tok.t === 'p' && (tok.v === '{' || tok.v === '[')) {
      out.push(tok);
      if (next && (next.v === '}' || next.v === ']')) continue;
      depth++;
      out.push(nl());
    } else if (tok.t === 'p' && (tok.v === '}' || tok.v === ']')) {
      const prev = real[i - 1];
      if (!(prev && (prev.v === '{' || prev.v === '['))) {
        depth = Math.max(0, depth - 1);
        out.push(nl());
      }
      out.push(tok);
    } else if (tok.v === ',' && tok.t === 'p') {
      out.push(tok, nl());
    } else if (tok.v === ':' && tok.t === 'p') {
      out.push(tok, { t: 'w', v: ' ' });
    } else out.push(tok);
  }
  return out;
}

/** The indented text itself (for the diff of two requests). */
export function indentedText(text) {
  return reindent(tokenize(text))
    .map((t) => t.v)
    .join('');
}

export function highlight(text, indent) {
  const tokens = tokenize(text);
  const list = indent ? reindent(tokens) : tokens;
  const root = document.createDocumentFragment();
  const parents = [root];
  const opened = [];
  const append = (node) => parents[parents.length - 1].append(node);
  for (let i = 0; i < list.length; i++) {
    const tok = list[i];
    if (tok.t === 'w') {
      append(tok.v);
      continue;
    }
    const isOpen = tok.t === 'p' && (tok.v === '{' || tok.v === '[');
    const isClose = tok.t === 'p' && (tok.v === '}' || tok.v === ']');
    if (isClose) {
      if (opened.pop()) parents.pop();
      append(el('span', { className: 'p' }, tok.v));
      continue;
    }
    if (isOpen && indent) {
      let j = i + 1;
      while (j < list.length && list[j].t === 'w') j++;
      const empty = list[j] && list[j].t === 'p' && (list[j].v === '}' || list[j].v === ']');
      if (!empty) {
        append(
          el('span', {
            className: 'fold',
            role: 'button',
            tabIndex: 0,
            'aria-label': 'fold or unfold',
            title: 'fold / unfold',
          }),
        );
        append(el('span', { className: 'p' }, tok.v));
        const body = el('span', { className: 'fold-body' });
        append(body);
        parents.push(body);
        opened.push(true);
        continue;
      }
    }
    if (isOpen) opened.push(false);
    if (tok.t === 's' && tok.v.length > LONG_STRING) append(longString(tok.v));
    else {
      const span = el('span', { className: tok.t }, tok.v);
      if (tok.path) {
        span.dataset.path = tok.path;
        span.title = `${tok.path} (click to copy the path)`;
      }
      append(span);
    }
  }
  return root;
}

/** A long string (base64 data) shows its start; a click shows the rest. textContent stays exact. */
function longString(v) {
  const span = el('span', { className: 's long' }, v.slice(0, 120), el('span', { className: 'rest' }, v.slice(120)));
  span.dataset.more = `${(v.length - 120).toLocaleString()} more characters`;
  return span;
}

/** Folds or unfolds the object or array after a fold toggle. */
export function toggleFold(toggle) {
  toggle.classList.toggle('folded');
  toggle.setAttribute('aria-expanded', toggle.classList.contains('folded') ? 'false' : 'true');
}
