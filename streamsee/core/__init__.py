"""The pieces every other part shares: the Result type, labels, the Resource protocol, configs, frames,
package files. Imports nothing else of streamsee."""
