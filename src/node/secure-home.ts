import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { AppError } from '../errors.ts'

export interface SecureHomeResult {
  /** True when the home did not exist and was created (0700). */
  created: boolean
  /** Files and folders of an older home whose mode was tightened (0600 / 0700). */
  fixed: number
}

/** The shell commands that make `home` private, for error messages. */
const fixHint = (home: string) => {
  const quoted = /^[A-Za-z0-9_./@:+-]+$/.test(home) ? home : `'${home.replace(/'/g, `'\\''`)}'`
  return `chmod 700 ${quoted} && chmod -R go-rwx ${quoted}`
}

/**
 * Makes the node's home private before anything is written in it: sets this process's umask to
 * 077 (so anvil, SQLite and every library create files 0600 and folders 0700), creates the home
 * 0700, refuses a home that another user owns or that group or others may read, write or enter,
 * and tightens the files and folders an older node left with wider modes. Symbolic links inside
 * the home are neither followed nor changed.
 * @throws AppError `HOME_NOT_PRIVATE` naming the `chmod` that fixes the home; nothing is written.
 */
export function secureHome(home: string): SecureHomeResult {
  process.umask(0o077)
  let stats: Stats | undefined
  try {
    stats = statSync(home) // a home reached through a symbolic link is judged by what it points to
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (!stats) {
    mkdirSync(home, { recursive: true, mode: 0o700 })
    chmodSync(home, 0o700)
    return { created: true, fixed: 0 }
  }
  if (!stats.isDirectory()) {
    throw new AppError('HOME_NOT_PRIVATE', { message: `The node's home ${home} is not a directory.` })
  }
  const uid = process.getuid?.()
  if (uid !== undefined && stats.uid !== uid) {
    throw new AppError('HOME_NOT_PRIVATE', {
      message: `The node's home ${home} belongs to another user (uid ${stats.uid}); run the node as that user, or give it a home of its own.`,
    })
  }
  if ((stats.mode & 0o077) !== 0) {
    throw new AppError('HOME_NOT_PRIVATE', {
      message: `The node's home ${home} is open to other users (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}); it holds keystores and personal data. Make it private with: ${fixHint(home)}`,
    })
  }
  return { created: false, fixed: tighten(home, uid) }
}

/** chmods every file under `dir` to 0600 and every folder to 0700 where group or others have a bit; returns how many changed. */
function tighten(dir: string, uid: number | undefined): number {
  let fixed = 0
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    let stats: Stats
    try {
      stats = lstatSync(path)
    } catch {
      continue // removed meanwhile
    }
    if (stats.isSymbolicLink()) continue
    const wanted = stats.isDirectory() ? 0o700 : 0o600
    if ((stats.mode & 0o077) !== 0) {
      if (uid !== undefined && stats.uid !== uid) {
        throw new AppError('HOME_NOT_PRIVATE', { message: `${path} in the node's home belongs to another user (uid ${stats.uid}); give the home back to the node's user (chown -R).` })
      }
      chmodSync(path, wanted)
      fixed++
    }
    if (stats.isDirectory()) fixed += tighten(path, uid)
  }
  return fixed
}
