import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AccountLockedError, assertNotLocked, clearSignInFailures, clientBucket, lockDurationMs, lockoutPolicy, recordSignInFailure, serializeSignIn, signInKey } from './lockout.ts'
import { openSignInNode } from '../../test/helpers/sign-in-fixtures.ts'

describe('sign-in lock-out', async () => {
  const node = await openSignInNode()
  after(() => node.close())

  it('locks after 5 failures for 30 s, doubles with each further failure, and stops at one hour', async () => {
    assert.deepEqual([1, 2, 3, 4].map(lockDurationMs), [0, 0, 0, 0])
    assert.deepEqual([5, 6, 7, 8, 9, 10, 11].map(lockDurationMs), [30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000])
    assert.equal(lockDurationMs(12), 3_600_000)
    assert.equal(lockDurationMs(500), lockoutPolicy.maxMs)
  })

  it('keys by the normalised e-mail, as a hash, whether or not the account exists', async () => {
    assert.equal(signInKey(' Ann@Example.ORG '), signInKey('ann@example.org'))
    assert.notEqual(signInKey('ann@example.org'), signInKey('bob@example.org'))
    assert.match(signInKey('ann@example.org'), /^[0-9a-f]{64}$/)
    assert.ok(!signInKey('ann@example.org').includes('ann'))
  })

  it('keys by e-mail and client address together: an IPv4 address as it is, an IPv6 client by its /64', async () => {
    assert.notEqual(signInKey('ann@example.org', '192.0.2.1'), signInKey('ann@example.org', '192.0.2.2'))
    assert.equal(signInKey('ann@example.org', '::ffff:192.0.2.1'), signInKey('ann@example.org', '192.0.2.1'))
    assert.equal(clientBucket('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64')
    assert.equal(clientBucket('2001:db8:1:2:ffff:ffff:ffff:ffff'), clientBucket('2001:0db8:0001:0002::'))
    assert.equal(clientBucket('2001:db8::1'), '2001:db8:0:0::/64')
    assert.notEqual(clientBucket('2001:db8:1:2::1'), clientBucket('2001:db8:1:3::1'))
    assert.equal(clientBucket('::1'), '0:0:0:0::/64')
    // A stranger's lock on one address leaves the owner's other address open.
    const now = 5_000_000
    const stranger = signInKey('owner@example.org', '203.0.113.9')
    for (let i = 0; i < 5; i++) await recordSignInFailure(node.db, stranger, now)
    await assert.rejects(assertNotLocked(node.db, stranger, now), AccountLockedError)
    await assert.doesNotReject(assertNotLocked(node.db, signInKey('owner@example.org', '198.51.100.4'), now))
  })

  it('refuses while locked with the time left, counts from where it was after the lock ends, and forgets on success', async () => {
    const key = signInKey('counter@example.org')
    let now = 1_000_000
    for (let i = 1; i <= 4; i++) {
      assert.deepEqual(await recordSignInFailure(node.db, key, now), { failures: i, lockedUntil: 0 })
      await assert.doesNotReject(async () => await assertNotLocked(node.db, key, now))
    }
    assert.deepEqual(await recordSignInFailure(node.db, key, now), { failures: 5, lockedUntil: now + 30_000 })
    await assert.rejects(async () => await assertNotLocked(node.db, key, now + 29_999), (err: unknown) => {
      assert.ok(err instanceof AccountLockedError)
      assert.equal(err.code, 'ACCOUNT_LOCKED')
      assert.equal(err.status, 429)
      assert.equal(err.retryAfterSeconds, 1)
      assert.equal(err.message, 'Too many failed sign-in attempts; try again in 1 second.')
      return true
    })
    now += 30_000
    await assert.doesNotReject(async () => await assertNotLocked(node.db, key, now))
    assert.equal((await recordSignInFailure(node.db, key, now)).lockedUntil, now + 60_000)
    await assert.rejects(async () => await assertNotLocked(node.db, key, now), /try again in about 1 minute\./)
    await clearSignInFailures(node.db, key)
    await assert.doesNotReject(async () => await assertNotLocked(node.db, key, now))
    assert.deepEqual(await recordSignInFailure(node.db, key, now), { failures: 1, lockedUntil: 0 })
  })

  it('forgets old failures after a quiet day', async () => {
    const key = signInKey('quiet@example.org')
    for (let i = 0; i < 4; i++) await recordSignInFailure(node.db, key, 0)
    assert.equal((await recordSignInFailure(node.db, key, lockoutPolicy.forgetAfterMs + 1)).failures, 1)
  })

  it('runs attempts on one key one after the other, and on different keys side by side', async () => {
    const order: string[] = []
    const slow = (name: string, ms: number) => async () => {
      order.push(`${name}:start`)
      await new Promise((r) => setTimeout(r, ms))
      order.push(`${name}:end`)
      if (name === 'a1') throw new Error('a1 failed')
      return name
    }
    const a1 = serializeSignIn(node.signIn, 'a', slow('a1', 20)).catch((e: Error) => e.message)
    const a2 = serializeSignIn(node.signIn, 'a', slow('a2', 1))
    const b1 = serializeSignIn(node.signIn, 'b', slow('b1', 1))
    assert.deepEqual(await Promise.all([a1, a2, b1]), ['a1 failed', 'a2', 'b1'])
    assert.ok(order.indexOf('a2:start') > order.indexOf('a1:end'), order.join(' '))
    assert.ok(order.indexOf('b1:start') < order.indexOf('a1:end'), order.join(' '))
  })
})
