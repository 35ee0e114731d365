# layers.mk - which layers each folder may include (ARCHITECTURE.md).
#
# A folder is compiled with -I for itself and the layers listed after it,
# nothing else. Lower layers never see upper ones: engine/ sees only engine/,
# the HTTP transport sees no route, job or store header. A new folder needs a
# line here (and in SERVER_LAYERS when it is part of the daemon).

LAYER_INC_engine          := -Iengine
LAYER_INC_api             := -Iapi -Iengine
LAYER_INC_server/util     := -Iserver/util
LAYER_INC_server/store    := -Iserver/store -Iserver/util -Iengine
LAYER_INC_server/http     := -Iserver/http -Iserver/util -Iapi
LAYER_INC_server/datasets := -Iserver/datasets -Iserver/store -Iserver/util -Iengine
LAYER_INC_server/jobs     := -Iserver/jobs -Iserver/datasets -Iserver/store -Iserver/util \
                             -Iapi -Iengine
LAYER_INC_server/sweeps   := -Iserver/sweeps -Iserver/jobs -Iserver/datasets -Iserver/store \
                             -Iserver/util -Iapi -Iengine
LAYER_INC_server/serving  := -Iserver/serving -Iserver/store -Iserver/util -Iengine
LAYER_INC_server/rest     := -Iserver/rest -Iserver/http -Iserver/sweeps -Iserver/jobs -Iserver/serving \
                             -Iserver/datasets -Iserver/store -Iserver/util -Iapi -Iengine
LAYER_INC_server/daemon   := -Iserver/daemon $(LAYER_INC_server/rest)
LAYER_INC_server/cli      := -Iserver/cli -Iserver/util -Iapi -Iengine
LAYER_INC_server          := -Iserver/cli -Iserver/daemon -Iserver/util

# The daemon's folders, bottom to top (main.c, in server/ itself, links them).
SERVER_LAYERS := server/util server/store server/http server/datasets server/jobs \
                 server/sweeps server/serving server/rest server/daemon server/cli

ALL_INC := -Iengine -Iapi $(SERVER_LAYERS:%=-I%)
