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
