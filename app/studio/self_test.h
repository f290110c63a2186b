// rwkv-studio --self-test: proves an installation works without a person at the screen. Opens the
// main window (offscreen is fine), the demo model and the sample data, runs two tuning steps on
// the worker thread and checks the state file it writes. Settings and files go to a temporary
// folder, never the user's. Returns the process exit code: 0 on success, 1 with the reason on
// stderr otherwise.
#pragma once

int runSelfTest(int timeoutSeconds = 300);
