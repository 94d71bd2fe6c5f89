// Command eddy is a terminal workbench for stream analytics.
package main

import "github.com/eddyhq/eddy/cmd"

func main() { cmd.Execute() }
