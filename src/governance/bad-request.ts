import { BadRequestException } from '@nestjs/common';
import type { z } from 'zod';

/** one thing wrong with a request body or query: the field at fault (dotted path, `(body)` for the whole) and why */
export interface FieldProblem {
  field: string;
  message: string;
}

/** zod's issues as FieldProblems */
export function zodProblems(err: z.ZodError): FieldProblem[] {
  return err.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
}

/** The 400 every governance route answers a bad body with: `{error: "bad_request", message, problems}`. */
export function badRequest(problems: readonly FieldProblem[]): BadRequestException {
  return new BadRequestException({ error: 'bad_request', message: problems.map((p) => `${p.field}: ${p.message}`).join('; '), problems });
}
