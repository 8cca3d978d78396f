// Typed values for the run form: a parameter's type comes from its default in the parameters cell.

export interface IParamSpec {
  name: string;
  default: unknown;
  type: string; // int, float, str, bool, list, dict, NoneType
}

/** The text a form field starts with. */
export function formatValue(p: IParamSpec): string {
  if (p.type === 'str') {
    return String(p.default ?? '');
  }
  return JSON.stringify(p.default);
}

/** The value a field's text means for the parameter's type; throws with a message the form shows. */
export function parseValue(p: IParamSpec, text: string): unknown {
  const t = text.trim();
  switch (p.type) {
    case 'int':
      if (!/^[-+]?\d+$/.test(t)) {
        throw new Error(`${p.name} must be a whole number`);
      }
      return parseInt(t, 10);
    case 'float': {
      const v = Number(t);
      if (t === '' || Number.isNaN(v)) {
        throw new Error(`${p.name} must be a number`);
      }
      return v;
    }
    case 'bool':
      if (!['true', 'false'].includes(t.toLowerCase())) {
        throw new Error(`${p.name} must be true or false`);
      }
      return t.toLowerCase() === 'true';
    case 'str':
      return text;
    default:
      try {
        return JSON.parse(t);
      } catch {
        throw new Error(`${p.name} must be JSON (${p.type})`);
      }
  }
}
