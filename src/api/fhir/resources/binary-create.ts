import { registerBinaryCreate } from '../create-binary.ts'
import type { FhirResourceModule } from '../resource-module.ts'

/** Binary create (issue 11 item 5): POST /Binary stores the body as one encrypted, anchored record (create-binary.ts). */
export const binaryCreateModule: FhirResourceModule = {
  type: 'Binary',
  interactions: ['create'],
  searchParams: [],
  register: (scope, { services }) => registerBinaryCreate(scope, services),
}
