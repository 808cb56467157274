import ArgumentParser
struct Simulate: ParsableCommand { static let configuration = CommandConfiguration(abstract: "Write simulated tissue (coming with the simulator).") }
struct Demo: ParsableCommand { static let configuration = CommandConfiguration(abstract: "Run the demo.") }
