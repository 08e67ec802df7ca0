// Loaded (`--import`) into every sandboxed processor's child process (createSandboxedWorker): the
// child exits as soon as its worker process is gone. A SIGKILLed worker otherwise leaves its
// children running alone (an export at a full core, holding its PostgreSQL connections) until
// their job ends; the job itself is taken over by another worker once its lock lapses.

const parent = process.ppid;
const exit = () => process.exit(1);

// The IPC channel to the worker closes when the worker dies, however it died.
process.once('disconnect', exit);
// Without an IPC channel (or should its end go unnoticed), being adopted by another process tells too.
setInterval(() => {
  if (process.ppid !== parent) exit();
}, 1_000).unref();
