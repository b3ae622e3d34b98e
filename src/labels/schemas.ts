import { type Static, Type } from '@sinclair/typebox';
import { Color } from '../projects/schemas.ts';

export const Label = Type.Object(
  { id: Type.Integer(), name: Type.String(), color: Type.String() },
  { $id: 'Label', title: 'Label' },
);
export type Label = Static<typeof Label>;

const Name = Type.String({ minLength: 1, maxLength: 50 });

export const LabelBody = Type.Object({ name: Name, color: Type.Optional(Color) }, { additionalProperties: false });
export type LabelBody = Static<typeof LabelBody>;

export const LabelPatch = Type.Object(
  { name: Type.Optional(Name), color: Type.Optional(Color) },
  { additionalProperties: false },
);
export type LabelPatch = Static<typeof LabelPatch>;
