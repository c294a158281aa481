import type { ApiClient } from './client.ts'

/** Resolves a patient given by e-mail, id or address to its account (e-mails travel in bodies, not URLs). */
export async function resolveAccount(client: ApiClient, ref: string): Promise<{ id: string; address: string; email: string }> {
  return client.json('POST', '/users/resolve', { ref })
}
