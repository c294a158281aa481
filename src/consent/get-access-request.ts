import { chainTime } from '../ledger/chain-time.ts'
import type { Actor } from '../accounts/account.ts'
import { loadRequest, toView, type AccessRequestView } from './access-request.ts'
import type { Services } from '../services.ts'

/** One request the actor is party to (or any, for the admin). @throws AppError REQUEST_NOT_FOUND */
export async function getAccessRequest(s: Services, { actor, requestId }: { actor: Actor; requestId: string }): Promise<AccessRequestView> {
  const now = await chainTime(s.ledger)
  return await toView(s, await loadRequest(s, actor, requestId), now)
}
