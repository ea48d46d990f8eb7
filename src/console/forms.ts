import type { z } from 'zod'
import { formatIssuePath } from '../http/plugins/error-handler.ts'
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
