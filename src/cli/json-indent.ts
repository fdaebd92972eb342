// Indents stored JSON text for people without re-serializing it: only whitespace between tokens
// changes, so `1.0`, `1e3`, 20-digit integers and escapes read exactly as stored.

const TOKEN = /("(?:[^"\\]|\\.)*")|([{}[\]:,])|(\s+)|([^\s"{}[\]:,]+)/gy;

export function indentJson(text: string, unit = '  '): string {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (TOKEN.lastIndex < text.length && (m = TOKEN.exec(text))) {
    if (m[3] === undefined) tokens.push(m[0]);
  }
  // Not JSON-shaped past this point (never the case for stored texts): keep the rest verbatim.
  if (TOKEN.lastIndex < text.length) tokens.push(text.slice(TOKEN.lastIndex));
  let out = '';
  let depth = 0;
  const nl = () => `\n${unit.repeat(depth)}`;
  tokens.forEach((tok, i) => {
    const next = tokens[i + 1];
    const prev = tokens[i - 1];
    if (tok === '{' || tok === '[') {
      out += tok;
      if (next !== '}' && next !== ']') {
        depth++;
        out += nl();
      }
    } else if (tok === '}' || tok === ']') {
      if (prev !== '{' && prev !== '[') {
        depth = Math.max(0, depth - 1);
        out += nl();
      }
      out += tok;
    } else if (tok === ',') out += tok + nl();
    else if (tok === ':') out += ': ';
    else out += tok;
  });
  return out;
}
