// The training worker: loads the worker module for the backend the page chose
// (`?kind=cpu` loads the CPU-only module, `?kind=gpu` the one with WebGPU) and hands every
// message from the page to it.
const kind = new URL(self.location.href).searchParams.get('kind') === 'gpu' ? 'gpu' : 'cpu';
const pending = [];
let handle = null;
self.onmessage = (e) => {
  if (handle) handle(e.data);
  else pending.push(e.data);
};
import(`./pkg/sweeplab_worker_${kind}.js`)
  .then(async (mod) => {
    await mod.default();
    // Run the module's static constructors once (web/src/init.rs); without this call every
    // call into the module would run them again.
    mod.sweeplab_init();
    handle = mod.worker_handle;
    for (const m of pending.splice(0)) handle(m);
  })
  .catch((err) => {
    // A WebGPU module that cannot load is the page's cue to continue on the CPU backend.
    self.postMessage(JSON.stringify({
      type: kind === 'gpu' ? 'device_lost' : 'error',
      message: `the ${kind} training module could not be loaded: ${err}`,
    }));
  });
