// Run dates and business dates (DESIGN §2.3): both are calendar days written `yyyymmdd`.

const RUN_DATE = /^(\d{4})(\d{2})(\d{2})$/;
const DAY_MS = 86_400_000;

/** The calendar day a `yyyymmdd` string names, as UTC midnight; `null` unless it is a real date. */
function dayOf(text: string): Date | null {
  const match = RUN_DATE.exec(text);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC rolls 20260230 over into March; a real date survives the round trip.
  const real = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return real && year >= 1000 ? date : null;
}

function yyyymmdd(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}`;
}

export function isRunDate(text: string): boolean {
  return dayOf(text) !== null;
}

/** `${bizdate}` of a run: its run date minus one day (`20260310` → `20260309`); `null` for an invalid run date. */
export function bizdateOf(runDate: string): string | null {
  const day = dayOf(runDate);
  return day ? yyyymmdd(new Date(day.getTime() - DAY_MS)) : null;
}

/** Today as `yyyymmdd` in an IANA time zone (the workflow's), falling back to UTC for an unknown zone. */
export function todayIn(timeZone = "UTC", now: Date = new Date()): string {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  } catch {
    format = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit" });
  }
  const part = (type: Intl.DateTimeFormatPartTypes) => format.formatToParts(now).find((p) => p.type === type)?.value ?? "";
  return `${part("year")}${part("month")}${part("day")}`;
}

/** `20260310` → `2026-03-10`, for reading; anything else is returned as it is. */
export function displayDay(text: string): string {
  const match = RUN_DATE.exec(text);
  return match ? `${match[1]}-${match[2]}-${match[3]}` : text;
}
