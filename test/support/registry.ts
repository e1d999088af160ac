// Every test sees the built-in algorithms registered, as every entry point of the app does.
import '../../src/protocols/index.ts';
