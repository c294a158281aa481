import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

// The import graph of src/, read from the source: `import … from '…'`, `export … from '…'`
// and `import('…')` with a relative path. Tests (*.test.ts) are left out: they may reach anywhere.
const root = resolve(import.meta.dirname, '..')
const src = join(root, 'src')

/** Floors from the bottom (README "Layout"): a folder imports only from its own floor or below. */
const floors: Record<string, number> = {
  crypto: 0, db: 0, storage: 0, ledger: 0, network: 0, text: 0,
  accounts: 1, records: 2, consent: 3, consortium: 4, notify: 4,
  node: 5, api: 5, cli: 5, web: 5,
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : []
  })
}

/** The relative imports of each file, as src-relative paths, with whether each is type-only. */
function importGraph(): Map<string, { to: string; typeOnly: boolean }[]> {
  const files = sourceFiles(src)
  const known = new Set(files.map((f) => relative(src, f)))
  const graph = new Map<string, { to: string; typeOnly: boolean }[]>()
  const pattern = /(?:^|[\s;])(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    const edges: { to: string; typeOnly: boolean }[] = []
    for (const m of text.matchAll(pattern)) {
      const spec = m[3] ?? m[4]
      const target = relative(src, resolve(dirname(file), spec)).replace(/\.js$/, '.ts')
      const found = [target, `${target}.ts`, `${target}.tsx`, join(target, 'index.ts')].find((t) => known.has(t))
      if (found) edges.push({ to: found, typeOnly: m[2] !== undefined })
    }
    graph.set(relative(src, file), edges)
  }
  return graph
}

/** Strongly connected components with more than one file (Tarjan): each is an import circle. */
function circles(graph: Map<string, { to: string }[]>): string[][] {
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string): void => {
    index.set(v, counter); low.set(v, counter); counter++
    stack.push(v); onStack.add(v)
    for (const { to } of graph.get(v) ?? []) {
      if (!index.has(to)) { visit(to); low.set(v, Math.min(low.get(v)!, low.get(to)!)) }
      else if (onStack.has(to)) low.set(v, Math.min(low.get(v)!, index.get(to)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do { w = stack.pop()!; onStack.delete(w); component.push(w) } while (w !== v)
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

/** The floor of a src-relative path: its top folder's, or the bottom for src/*.ts itself. */
const floorOf = (path: string): number => floors[path.split('/')[0]] ?? (path.includes('/') ? Infinity : 0)

describe('architecture: the imports of src/', () => {
  const graph = importGraph()

  it('src/api has no import circle (routes never import build-app.ts)', () => {
    const inApi = circles(graph).filter((c) => c.some((f) => f.startsWith('api/')))
    assert.deepEqual(inApi, [], `import circles through src/api:\n${inApi.map((c) => `  ${c.join(' → ')}`).join('\n')}`)
    const routesOnApp = [...graph].filter(([f, edges]) => f.startsWith('api/routes/') && edges.some((e) => e.to === 'api/build-app.ts')).map(([f]) => f)
    assert.deepEqual(routesOnApp, [])
  })

  it('has no import circle anywhere in src', () => {
    assert.ok(graph.size > 100, `read only ${graph.size} files`)
    const found = circles(graph)
    assert.deepEqual(found, [], `${found.length} import circle(s):\n${found.map((c) => `  circle of ${c.length}: ${c.join(', ')}`).join('\n')}`)
  })

  it('imports only from its own floor or below (type-only imports too): records never imports consent, accounts never consortium', () => {
    const upward = [...graph].flatMap(([from, edges]) => edges
      .filter((e) => floorOf(e.to) > floorOf(from))
      .map((e) => `${from} → ${e.to}${e.typeOnly ? ' (type only)' : ''}`))
    assert.deepEqual(upward.sort(), [], `upward import(s) (${Object.entries(floors).map(([f, n]) => `${f}:${n}`).join(' ')}):\n${upward.map((u) => `  ${u}`).join('\n')}`)
  })
})

describe('architecture: routes stay thin', () => {
  // SQL statements in upper case (the house writes SQL so) or a reach into the database handle.
  const sql = /\bSELECT\b[\s\S]{0,300}?\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\.db\b|\bdb\.(?:get|all|run|exec)\b/
  const cast = /\breq\.(?:body|query|params)\s+as\b/
  const apiFiles = sourceFiles(join(src, 'api')).map((f) => [relative(src, f), readFileSync(f, 'utf8')] as const)

  it('no file in src/api holds SQL or reaches the database: queries live in the domain floors', () => {
    assert.ok(apiFiles.length > 10, `read only ${apiFiles.length} files`)
    assert.deepEqual(apiFiles.filter(([, text]) => sql.test(text)).map(([f, text]) => `${f}: ${sql.exec(text)![0].slice(0, 60)}`), [])
  })

  it('no route casts its body, query or params: their types come from the JSON schemas', () => {
    assert.deepEqual(apiFiles.filter(([, text]) => cast.test(text)).map(([f, text]) => `${f}: ${cast.exec(text)![0]}`), [])
  })
})

// Function lengths, counted on the source with comments, strings, template texts and regex
// literals blanked (TypeScript 7 has no JS compiler API to walk the AST with).
/** `text` with comments, strings, template texts and regex literals blanked (newlines kept), so braces can be counted. */
function blankNonCode(text: string): string {
  const out = text.split('')
  const blank = (from: number, to: number): void => { for (let i = from; i < to; i++) if (out[i] !== '\n') out[i] = ' ' }
  const templates: number[] = [] // the brace depth at each open `${`
  let depth = 0
  const regexCanStart = (at: number): boolean => {
    let j = at - 1
    while (j >= 0 && /\s/.test(text[j])) j--
    if (j < 0 || /[(,=:[!&|?{};+\-*%<>~^]/.test(text[j])) return true
    return /\b(?:return|typeof|case|do|else|in|of|void|yield|await)$/.test(text.slice(Math.max(0, j - 6), j + 1))
  }
  const skipTemplate = (start: number): number => { // from inside a template text to after its end, or into its next `${`
    for (let k = start; k < text.length; k++) {
      if (text[k] === '\\') { k++; continue }
      if (text[k] === '`') { blank(start, k); return k + 1 }
      if (text[k] === '$' && text[k + 1] === '{') { blank(start, k); templates.push(depth++); return k + 2 }
    }
    return text.length
  }
  for (let i = 0; i < text.length;) {
    const c = text[i]
    if (c === '/' && text[i + 1] === '/') { const e = text.indexOf('\n', i); const end = e < 0 ? text.length : e; blank(i, end); i = end; continue }
    if (c === '/' && text[i + 1] === '*') { const end = text.indexOf('*/', i + 2) + 2; blank(i, end); i = end; continue }
    if (c === "'" || c === '"') {
      let k = i + 1
      while (k < text.length && text[k] !== c && text[k] !== '\n') k += text[k] === '\\' ? 2 : 1
      blank(i + 1, k); i = k + 1; continue
    }
    if (c === '`') { i = skipTemplate(i + 1); continue }
    if (c === '/' && regexCanStart(i)) {
      let k = i + 1
      let inClass = false
      for (; k < text.length && text[k] !== '\n' && (inClass || text[k] !== '/'); k++) {
        if (text[k] === '\\') k++
        else if (text[k] === '[') inClass = true
        else if (text[k] === ']') inClass = false
      }
      blank(i + 1, k); i = k + 1; continue
    }
    if (c === '{') depth++
    if (c === '}' && --depth === templates.at(-1)) { templates.pop(); i = skipTemplate(i + 1); continue }
    i++
  }
  return out.join('')
}

/**
 * Every function body in `text` (a `{` after `=>`, or after a parameter list and an optional
 * return type, not of if/for/while/switch/catch), from its first line to its closing brace.
 */
function functionLengths(text: string): { line: number; lines: number; head: string }[] {
  const code = blankNonCode(text)
  const lineStarts = [0]
  for (let k = 0; k < code.length; k++) if (code[k] === '\n') lineStarts.push(k + 1)
  const lineAt = (pos: number): number => { let lo = 0; let hi = lineStarts.length - 1; while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (lineStarts[mid] <= pos) lo = mid; else hi = mid - 1 } return lo + 1 }
  const matchingOpen = (close: number): number => {
    for (let k = close, d = 0; k >= 0; k--) {
      if (code[k] === ')') d++
      else if (code[k] === '(' && --d === 0) return k
    }
    return -1
  }
  const startOf = (brace: number): number | undefined => {
    const before = code.slice(Math.max(0, brace - 400), brace)
    if (/=>\s*$/.test(before)) return brace
    const params = /\)\s*(?::\s*[\w.<>[\]|&,\s]+)?\s*$/.exec(before)
    if (!params) return undefined
    const open = matchingOpen(brace - before.length + params.index)
    if (open < 0 || /\b(?:if|for|while|switch|catch|with)\s*$/.test(code.slice(Math.max(0, open - 12), open))) return undefined
    return open
  }
  const openers: number[] = []
  const found: { line: number; lines: number; head: string }[] = []
  for (let k = 0; k < code.length; k++) {
    if (code[k] === '{') openers.push(k)
    else if (code[k] === '}') {
      const open = openers.pop()
      const start = open === undefined ? undefined : startOf(open)
      if (start === undefined) continue
      const line = lineAt(start)
      found.push({ line, lines: lineAt(k) - line + 1, head: text.slice(lineStarts[line - 1], text.indexOf('\n', lineStarts[line - 1])).trim().slice(0, 60) })
    }
  }
  return found
}

describe('architecture: no function over 80 lines', () => {
  // src/ledger/abis.ts is generated.
  const skipped = (path: string): boolean => path === 'ledger/abis.ts'
  // Files still allowed a function over 80 lines (none now): name one here only with the reason.
  const allowed = new Set<string>([])

  it('finds function bodies past braces in strings, templates, regexes and comments', () => {
    const body = Array.from({ length: 79 }, (_, i) => `  const s${i} = '{' + \`\${'}'}\` + /[{]/.source // }`).join('\n')
    const text = `export async function long(a: number): Promise<void> {\n${body}\n}\nconst short = (b: string) => {\n  if (b) { return }\n}\n`
    assert.deepEqual(functionLengths(text).map(({ line, lines }) => ({ line, lines })), [{ line: 1, lines: 81 }, { line: 82, lines: 3 }])
  })

  it('has no function over 80 lines in src, the portal included (tests and generated code aside)', () => {
    const files = sourceFiles(src).map((f) => relative(src, f)).filter((f) => !skipped(f))
    assert.ok(files.length > 100, `read only ${files.length} files`)
    const long = files.flatMap((f) => functionLengths(readFileSync(join(src, f), 'utf8'))
      .filter((fn) => fn.lines > 80 && !allowed.has(f))
      .map((fn) => `${f}:${fn.line} (${fn.lines} lines) ${fn.head}`))
    assert.deepEqual(long, [], `function(s) over 80 lines:\n${long.map((l) => `  ${l}`).join('\n')}`)
  })
})
