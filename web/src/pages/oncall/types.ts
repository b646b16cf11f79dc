/** What the on-call API returns (the fields these pages show). */
export interface OnCall {
  readonly schedule: string;
  readonly member: string;
  readonly from: string;
  readonly until: string;
  readonly override: string | null;
}

export interface ScheduleRow {
  readonly name: string;
  readonly rotation: string;
  readonly timeZone: string;
  readonly handoff: string;
  readonly members: readonly string[];
  readonly onCall: OnCall;
}

export interface ScheduleDetail extends ScheduleRow {
  readonly at: string;
  readonly upcoming: readonly OnCall[];
  readonly overrides: readonly {
    readonly id: string;
    readonly member: string;
    readonly from: string;
    readonly until: string;
  }[];
}

export interface PolicyRow {
  readonly name: string;
  readonly steps: readonly string[];
  readonly repeat: number;
}

export interface ContactRow {
  readonly username: string;
  readonly email: string | null;
}

/** "anna, ben ,  carla" as the members list the API takes. */
export function memberList(text: string): string[] {
  return text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}
