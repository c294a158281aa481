// Pretty-printing for the record viewer. The result is shown as text (never as markup), so a
// record cannot inject anything into the page.

/** JSON re-indented; the text unchanged when it is not JSON. */
export function prettyJson(text: string): { text: string; ok: boolean } {
  try {
    return { text: JSON.stringify(JSON.parse(text), null, 2), ok: true }
  } catch {
    return { text, ok: false }
  }
}

const tokenRe = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<\?[\s\S]*?\?>|<!DOCTYPE(?:[^[>]|\[[\s\S]*?\])*>|<\/?[^<>]+>|[^<]+/gi

/**
 * XML re-indented two spaces per level, an element holding only text kept on one line.
 * Tolerant: a malformed document still comes out readable, never throws.
 */
export function prettyXml(xml: string): string {
  const tokens = xml.match(tokenRe) ?? []
  const out: string[] = []
  let depth = 0
  const pad = () => '  '.repeat(Math.max(0, depth))
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    if (!t.startsWith('<')) {
      const text = t.trim()
      if (text) out.push(pad() + collapse(text))
      continue
    }
    if (t.startsWith('</')) {
      depth--
      out.push(pad() + t)
      continue
    }
    if (t.startsWith('<?') || t.startsWith('<!') || t.endsWith('/>')) {
      out.push(pad() + collapseTag(t))
      continue
    }
    // <a>text</a> on one line
    const next = tokens[i + 1]
    const after = tokens[i + 2]
    if (next !== undefined && !next.startsWith('<') && after?.startsWith('</') && next.trim().length <= 120) {
      out.push(pad() + collapseTag(t) + collapse(next.trim()) + after)
      i += 2
      continue
    }
    if (next?.startsWith('</')) {
      out.push(pad() + collapseTag(t) + next)
      i += 1
      continue
    }
    out.push(pad() + collapseTag(t))
    depth++
  }
  return out.join('\n')
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ')
}

function collapseTag(tag: string): string {
  return tag.startsWith('<!--') || tag.startsWith('<![CDATA[') ? tag : tag.replace(/\s+/g, ' ')
}

/** HL7 v2 segments are separated by carriage returns: one segment per line. */
export function hl7Lines(text: string): string {
  return text.replace(/\r\n?/g, '\n')
}
