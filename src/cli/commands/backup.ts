import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../config.ts'
import { openDatabase } from '../../db/open-database.ts'
import { lockHome } from '../../node/lock-home.ts'
import { secureHome } from '../../node/secure-home.ts'
import { exportBackup } from '../../records/export-backup.ts'
import { importBackup } from '../../records/import-backup.ts'
import { blockSharding, blocksDir } from '../../storage/block-path.ts'
import { DurableFsBlockstore } from '../../storage/durable-fs.ts'
import { isAppError } from '../../errors.ts'
import { CliError } from '../client.ts'
import type { Out } from '../io.ts'

export interface BackupFlags { home?: string; db?: string; out?: string; all?: boolean }

const MiB = 1_048_576

/** `medledger backup export`: the node's records' blocks to one CAR file, with the node stopped. */
export async function backupExport(out: Out, flags: BackupFlags): Promise<void> {
  if (!flags.out) throw new CliError('USAGE', 'backup export needs --out FILE.car', 2)
  const target = flags.out
  await withStoppedNode(flags, async ({ home, db }) => {
    const store = new DurableFsBlockstore(blocksDir(join(home, 'ipfs')), { sharding: blockSharding })
    await store.open()
    const started = performance.now()
    const progress = throttled()
    try {
      const r = await exportBackup({
        db,
        blockstore: store,
        out: target,
        all: Boolean(flags.all),
        onProgress: (p) => progress(() => `backup: ${p.records}/${p.totalRecords} records, ${(p.bytes / MiB).toFixed(1)} MiB`),
      })
      const seconds = (performance.now() - started) / 1000
      out.result({ ...r, scope: flags.all ? 'all' : 'hospital', seconds: round(seconds), mibPerSecond: round(r.bytes / MiB / seconds) }, () => [
        `Exported ${r.records} record(s): ${r.blocks} blocks, ${r.bytes} bytes to ${r.file} in ${seconds.toFixed(2)} s.`,
        `sha256 ${r.sha256}`,
      ].join('\n'))
    } finally {
      await store.close()
    }
  })
}

/** `medledger backup import FILE.car`: blocks back into the store and pinned, with the node stopped. */
export async function backupImport(out: Out, file: string | undefined, flags: BackupFlags): Promise<void> {
  if (!file) throw new CliError('USAGE', 'backup import needs FILE.car', 2)
  if (!existsSync(file)) throw new CliError('NOT_FOUND', `No such file: ${file}`)
  await withStoppedNode(flags, async ({ home, db }) => {
    const started = performance.now()
    const progress = throttled()
    const r = await importBackup({
      db,
      ipfsDir: join(home, 'ipfs'),
      file,
      onProgress: (p) => progress(() => `backup: ${p.phase === 'verify' ? 'verifying' : 'storing'} ${(p.bytes / MiB).toFixed(1)}/${(p.fileBytes / MiB).toFixed(1)} MiB`),
    })
    const seconds = (performance.now() - started) / 1000
    out.result({ ...r, seconds: round(seconds), mibPerSecond: round(r.bytes / MiB / seconds) }, () => [
      `Imported ${r.blocks} verified blocks (${r.bytes} bytes, ${r.written} written, ${r.blocks - r.written} already stored) in ${seconds.toFixed(2)} s.`,
      `Pinned ${r.pinned.length} record(s).`,
      ...(r.erasedBlocks > 0 ? [`Skipped ${r.erasedBlocks} block(s) of erased records: an erased record is not restored.`] : []),
      ...r.unknownRoots.map((c) => `UNKNOWN ROOT ${c}: no record of this node's database has it; its blocks are stored but not pinned.`),
      ...r.failed.map((f) => `NOT PINNED ${f.recordId}: ${f.problem}${f.detail ? ` (${f.detail})` : ''}`),
      'Next: start the node and run `medledger verify --all` (as the admin) to check every record against its ledger anchor.',
    ].join('\n'))
    if (r.failed.length > 0) process.exitCode = 1
  })
}

/** Runs `fn` holding the home lock the node takes, with the node's database open. */
async function withStoppedNode(flags: BackupFlags, fn: (p: { home: string; db: Awaited<ReturnType<typeof openDatabase>> }) => Promise<void>): Promise<void> {
  const config = loadConfig({ flags: { home: flags.home, dbUrl: flags.db } })
  const home = config.home
  if (!existsSync(join(home, 'ipfs'))) throw new CliError('NOT_FOUND', `${home} is not a node's home (no ipfs folder).`)
  if (config.dbUrl === '' && !existsSync(join(home, 'medledger.db'))) throw new CliError('NOT_FOUND', `${home} has no medledger.db: pass the node's --db URL.`)
  secureHome(home) // the same private home as the node's: umask 077, refused when others can read it
  let release: () => void
  try {
    release = lockHome(home)
  } catch (err) {
    if (isAppError(err, 'BAD_REQUEST')) throw new CliError('NODE_RUNNING', `${err.message} Stop the node first: backups read and write its blocks with the node stopped.`)
    throw err
  }
  try {
    const db = await openDatabase({ url: config.dbUrl === '' ? join(home, 'medledger.db') : config.dbUrl })
    try {
      await fn({ home, db })
    } finally {
      await db.close()
    }
  } finally {
    release()
  }
}

/** Calls `print` at most once a second after the first second: small backups print nothing. */
function throttled(): (line: () => string) => void {
  let next = performance.now() + 1000
  return (line) => {
    const now = performance.now()
    if (now < next) return
    next = now + 1000
    process.stderr.write(line() + '\n')
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}
