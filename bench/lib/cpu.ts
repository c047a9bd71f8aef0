/**
 * CPU-time bookkeeping for benchmarks on a shared machine. The software WebGPU adapter runs on
 * this process's threads, so CPU time used by *other* processes while a timing runs means the
 * timing was contended. Linux only (/proc); elsewhere every reading is null.
 *
 * @module
 */

/** CPU milliseconds used so far by the whole machine except this process, and by this process. */
export interface CpuClock {
  /** Busy CPU ms of every other process (all cores). */
  others: number;
  /** CPU ms of this process (user + system, all threads). */
  self: number;
}

/** Reads the CPU clocks from /proc, or null where that is unavailable. */
export function cpuClock(): CpuClock | null {
  try {
    const all = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
      .map(Number);
    const busy = all[0] + all[1] + all[2] + all[5] + all[6] + all[7];
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    const self = Number(f[11]) + Number(f[12]);
    return { others: (busy - self) * 10, self: self * 10 }; // USER_HZ = 100
  } catch {
    return null;
  }
}

/**
 * Cores' worth of CPU other processes used between two readings taken `wallMs` apart
 * (0.5 = half a core busy elsewhere), or null when unknown.
 */
export function othersLoad(a: CpuClock | null, b: CpuClock | null, wallMs: number): number | null {
  if (!a || !b || wallMs <= 0) return null;
  return Math.max(0, (b.others - a.others) / wallMs);
}

/** Number of logical CPUs, or null. */
export function cpuCount(): number | null {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").split("\n")
      .filter((l) => l.startsWith("processor")).length || null;
  } catch {
    return null;
  }
}
