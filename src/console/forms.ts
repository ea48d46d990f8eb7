import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import { formatIssuePath } from '../http/plugins/error-handler.ts'
import { idSchema } from '../shared/common.schema.ts'
import { fail } from '../shared/errors.ts'

/**
 * Form posts are checked by the very zod schemas the REST routes use: the console builds the same
 * request body from the form fields, and a bad value is the same 400 naming the field.
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issues = parsed.error.issues.map((issue) => ({ path: formatIssuePath(issue.path) || 'form', message: issue.message }))
  throw fail.validation(`Invalid form: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, { issues })
}

export type FormBody = Record<string, string | string[] | undefined>

/** The form's fields as one string each (the last one of a repeated name); CSRF token left out. */
export function formOf(body: unknown): Record<string, string> {
  const fields: Record<string, string> = {}
  if (typeof body !== 'object' || body === null) return fields
  for (const [name, value] of Object.entries(body as FormBody)) {
    if (name === '_csrf' || value === undefined) continue
    fields[name] = Array.isArray(value) ? (value.at(-1) ?? '') : value
  }
  return fields
}

/** A text field: trimmed, absent when blank (a blank optional field means "not given"). */
export function optionalText(fields: Record<string, string>, name: string): string | undefined {
  const value = fields[name]?.trim()
  return value ? value : undefined
}

/** A checkbox: present ("on") or absent. */
export function checked(fields: Record<string, string>, name: string): boolean {
  return fields[name] !== undefined && fields[name] !== ''
}

/** A console path's source id, checked like the REST routes' :sourceId. */
export const SourceParamsSchema = z.object({ sourceId: idSchema(255) })

/** A multipart form read whole: its fields, and its one file as UTF-8 text under the file field's name. */
export async function readMultipartForm(request: FastifyRequest, maxFileBytes: number): Promise<Record<string, string>> {
  const fields: Record<string, string> = {}
  for await (const part of request.parts()) {
    if (part.type !== 'file') {
      fields[part.fieldname] = String(part.value)
      continue
    }
    const chunks: Buffer[] = []
    let bytes = 0
    for await (const chunk of part.file as AsyncIterable<Buffer>) {
      bytes += chunk.length
      if (bytes > maxFileBytes) throw fail.tooLarge(`The file ${part.filename} is larger than ${maxFileBytes} bytes`)
      chunks.push(chunk)
    }
    if (bytes > 0) fields[part.fieldname] = Buffer.concat(chunks).toString('utf8')
  }
  return fields
}
