// The run clock and built-in date parameters: bizdate, cyctime and DataWorks `$[...]` expressions.
import { TZDate } from "@date-fns/tz";
import { addDays, addHours, addMinutes, addMonths, format, isValid, parse } from "date-fns";
import { badRequest } from "../errors.ts";

/** The instant a run is "for", and the zone its calendar dates are read in. */
export interface RunClock {
  cyctime: Date;
  timezone: string;
}

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

/**
 * runDate "yyyymmdd" given → that calendar date at 00:00:00 in `timezone`; otherwise receivedAt.
 * Throws SluiceError 400 for an invalid runDate or time zone.
 */
export function runClock(opts: { runDate?: string; receivedAt: Date; timezone: string }): RunClock {
  const { runDate, receivedAt, timezone } = opts;
  if (!isTimeZone(timezone)) throw badRequest(`unknown time zone ${JSON.stringify(timezone)}; use an IANA name such as UTC or Asia/Shanghai`);
  if (runDate === undefined) return { cyctime: new Date(receivedAt.getTime()), timezone };
  // date-fns' parse accepts 7 digits for yyyyMMdd, so the shape is checked first.
  const valid = /^\d{8}$/.test(runDate) && isValid(parse(runDate, "yyyyMMdd", new Date(0)));
  if (!valid) throw badRequest(`runDate ${JSON.stringify(runDate)} is not a calendar date written as yyyymmdd (e.g. 20260310)`);
  const midnight = new TZDate(Number(runDate.slice(0, 4)), Number(runDate.slice(4, 6)) - 1, Number(runDate.slice(6, 8)), timezone);
  return { cyctime: new Date(midnight.getTime()), timezone };
}

const inZone = (clock: RunClock) => new TZDate(clock.cyctime.getTime(), clock.timezone);

/** bizdate = cyctime's calendar date (in tz) minus one day, yyyymmdd; cyctime = yyyymmddhh24miss in tz. */
export function builtinParams(clock: RunClock): { bizdate: string; cyctime: string } {
  const now = inZone(clock);
  return { bizdate: format(addDays(now, -1), "yyyyMMdd"), cyctime: format(now, "yyyyMMddHHmmss") };
}

// DataWorks tokens → date-fns tokens. Longer tokens first so `yyyy` is not read as two `yy`.
const TOKENS: ReadonlyArray<readonly [string, string]> = [
  ["yyyy", "yyyy"],
  ["hh24", "HH"],
  ["yy", "yy"],
  ["mm", "MM"],
  ["dd", "dd"],
  ["mi", "mm"],
  ["ss", "ss"],
];
const SEPARATOR = /[-/:._ ,]/;

type FormatPart = { token: string } | { literal: string };
export type DateShift = { unit: "days" | "hours" | "minutes" | "months"; amount: number };
export interface DateExpression {
  parts: FormatPart[];
  shift?: DateShift;
}

function parseFormat(text: string): FormatPart[] | undefined {
  const parts: FormatPart[] = [];
  let i = 0;
  while (i < text.length) {
    const token = TOKENS.find(([dw]) => text.startsWith(dw, i));
    if (token) {
      parts.push({ token: token[1] });
      i += token[0].length;
    } else if (SEPARATOR.test(text[i]!)) {
      parts.push({ literal: text[i]! });
      i += 1;
    } else {
      return undefined;
    }
  }
  // Separators only between tokens: `$[yyyymmdd-]` is a typo, not a date.
  return parts.length > 0 && "token" in parts[0]! && "token" in parts.at(-1)! ? parts : undefined;
}

const ADD_MONTHS = /^add_months\(\s*([^,()]+?)\s*,\s*([+-]?\d{1,4})\s*\)$/;
const OFFSET = /^(.*?)([+-]\d{1,6})(\/24(\/60)?)?$/;

/**
 * Parses the inside of `$[...]`. Anything that is not a date expression gives undefined, so bash
 * arithmetic such as `$[1+2]` or `$[i-1]` is left alone.
 */
export function parseDateExpression(expr: string): DateExpression | undefined {
  const months = ADD_MONTHS.exec(expr);
  if (months) {
    const parts = parseFormat(months[1]!);
    return parts && { parts, shift: { unit: "months", amount: Number(months[2]) } };
  }
  const offset = OFFSET.exec(expr);
  if (offset) {
    const parts = parseFormat(offset[1]!);
    const unit = offset[4] ? "minutes" : offset[3] ? "hours" : "days";
    return parts && { parts, shift: { unit, amount: Number(offset[2]) } };
  }
  const parts = parseFormat(expr);
  return parts && { parts };
}

const SHIFT = { days: addDays, hours: addHours, minutes: addMinutes, months: addMonths } as const;

/** Days and months move the calendar date in the zone (wall time kept); hours and minutes move the instant. */
export function formatDateExpression(parsed: DateExpression, clock: RunClock): string {
  const base = inZone(clock);
  const at = parsed.shift ? SHIFT[parsed.shift.unit](base, parsed.shift.amount) : base;
  return parsed.parts.map((p) => ("token" in p ? format(at, p.token) : p.literal)).join("");
}

/** The inside of a $[...] expression → its value, or undefined if it is not a date expression. */
export function evaluateDateExpression(expr: string, clock: RunClock): string | undefined {
  const parsed = parseDateExpression(expr);
  return parsed && formatDateExpression(parsed, clock);
}
