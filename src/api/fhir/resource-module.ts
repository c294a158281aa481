import type { FastifyInstance } from 'fastify'
import type { Actor } from '../../accounts/account.ts'
import type { Services } from '../../services.ts'

/** A FHIR resource as this server emits it: plain JSON with its `resourceType` (validated in test/fhir/validate.ts). */
export type FhirResource = { resourceType: string; id?: string } & Record<string, unknown>

/** The interactions a module implements (CapabilityStatement.rest.resource.interaction.code). */
export type FhirInteraction = 'read' | 'vread' | 'update' | 'patch' | 'delete' | 'history-instance' | 'history-type' | 'create' | 'search-type'

/** A search parameter a module implements (CapabilityStatement.rest.resource.searchParam). */
export interface FhirSearchParam {
  name: string
  type: 'number' | 'date' | 'string' | 'token' | 'reference' | 'composite' | 'quantity' | 'uri' | 'special'
  documentation: string
}

/** What every resource module gets: the node's parts. */
export interface FhirContext {
  services: Services
  /** The modules registered with the plugin, for operations that gather from several (`$everything`). */
  modules: readonly FhirResourceModule[]
}

/**
 * One FHIR resource type: what it declares goes into GET /fhir/R4/metadata, and `register`
 * adds its routes to the plugin's scope (see fhir-plugin.ts).
 */
export interface FhirResourceModule {
  type: string
  interactions: FhirInteraction[]
  searchParams: FhirSearchParam[]
  /** Operations on this type (`everything` on Patient): name and canonical definition. */
  operations?: { name: string; definition: string }[]
  register(scope: FastifyInstance, ctx: FhirContext): void | Promise<void>
  /**
   * The `Patient/{id}/$everything` hook: this type's resources about one patient that the
   * actor may see (never one more). Patient's module calls it on every module that has it.
   */
  everything?(s: Services, params: { actor: Actor; patientId: string; signal?: AbortSignal }): Promise<FhirResource[]>
}
