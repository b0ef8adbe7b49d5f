package cli

import "os"

var lookupEnv = os.LookupEnv
