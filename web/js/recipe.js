// recipe.js - GENERATED from the engine's recipe table (engine/recipe.c) by
// `make web/js/recipe.js`; do not edit. tests/unit/test_recipe.c checks it.
// Every POST /train member's type, default, limits and help, keyed by its
// dotted name ("early_stopping.patience"), in JSON Schema words.
export const RECIPE = {
	"hidden":	{
		"type":	"array",
		"default":	[512, 256],
		"items":	{
			"minimum":	1,
			"maximum":	4096
		},
		"maxItems":	15,
		"flag":	"hidden",
		"description":	"hidden layer widths, input side first"
	},
	"activation":	{
		"type":	"string",
		"enum":	["relu", "sigmoid", "tanh"],
		"nullable":	false,
		"default":	"relu",
		"flag":	"activation",
		"description":	"hidden layers' activation"
	},
	"output_activation":	{
		"type":	"string",
		"enum":	["softmax", "sigmoid", "linear"],
		"nullable":	true,
		"default":	null,
		"flag":	"output-activation",
		"description":	"output activation; by default softmax for cross_entropy, linear for mse"
	},
	"loss":	{
		"type":	"string",
		"enum":	["cross_entropy", "mse"],
		"nullable":	false,
		"default":	"cross_entropy",
		"flag":	"loss",
		"description":	"loss function"
	},
	"init":	{
		"type":	"string",
		"enum":	["glorot_uniform", "he_normal"],
		"nullable":	false,
		"default":	"glorot_uniform",
		"flag":	"init",
		"description":	"weight initialisation (biases start at zero)"
	},
	"optimizer":	{
		"type":	"string",
		"enum":	["sgd", "momentum", "adam", "adamw"],
		"nullable":	false,
		"default":	"sgd",
		"flag":	"optimizer",
		"description":	"optimizer"
	},
	"learning_rate":	{
		"type":	"number",
		"default":	0.01,
		"exclusiveMinimum":	0,
		"maximum":	1e+01,
		"flag":	"lr",
		"description":	"learning rate"
	},
	"momentum":	{
		"type":	"number",
		"default":	0.9,
		"minimum":	0,
		"exclusiveMaximum":	1,
		"flag":	"momentum",
		"description":	"momentum (optimizer momentum)"
	},
	"nesterov":	{
		"type":	"boolean",
		"default":	false,
		"flag":	"nesterov",
		"description":	"Nesterov momentum (optimizer momentum)"
	},
	"beta1":	{
		"type":	"number",
		"default":	0.9,
		"minimum":	0,
		"exclusiveMaximum":	1,
		"flag":	"beta1",
		"description":	"Adam's beta1"
	},
	"beta2":	{
		"type":	"number",
		"default":	0.999,
		"minimum":	0,
		"exclusiveMaximum":	1,
		"flag":	"beta2",
		"description":	"Adam's beta2"
	},
	"epsilon":	{
		"type":	"number",
		"default":	1e-07,
		"exclusiveMinimum":	0,
		"maximum":	1,
		"flag":	"epsilon",
		"description":	"Adam's epsilon (added after bias correction, as PyTorch does)"
	},
	"batch_size":	{
		"type":	"integer",
		"default":	128,
		"minimum":	1,
		"maximum":	65536,
		"flag":	"batch",
		"description":	"batch size"
	},
	"epochs":	{
		"type":	"integer",
		"default":	10,
		"minimum":	1,
		"maximum":	10000,
		"flag":	"epochs",
		"description":	"epochs"
	},
	"validation_split":	{
		"type":	"number",
		"default":	0,
		"minimum":	0,
		"maximum":	0.9,
		"flag":	"val",
		"description":	"share of the training samples held out for validation (the last ones)"
	},
	"l1":	{
		"type":	"number",
		"default":	0,
		"minimum":	0,
		"maximum":	1e+01,
		"flag":	"l1",
		"description":	"L1 penalty on weights"
	},
	"l2":	{
		"type":	"number",
		"default":	0,
		"minimum":	0,
		"maximum":	1e+01,
		"flag":	"l2",
		"description":	"L2 penalty on weights"
	},
	"dropout":	{
		"type":	"number",
		"default":	0,
		"minimum":	0,
		"exclusiveMaximum":	1,
		"flag":	"dropout",
		"description":	"dropout rate on hidden layers"
	},
	"shuffle":	{
		"type":	"boolean",
		"default":	true,
		"flag":	"no-shuffle",
		"description":	"reshuffle the training samples every epoch"
	},
	"seed":	{
		"type":	"integer",
		"default":	0,
		"minimum":	0,
		"maximum":	9007199254740991,
		"flag":	"seed",
		"description":	"seed of initialisation, shuffling and dropout"
	},
	"early_stopping.patience":	{
		"type":	"integer",
		"default":	0,
		"minimum":	0,
		"maximum":	10000,
		"flag":	"patience",
		"description":	"stop after N epochs without improvement (0: off)"
	},
	"early_stopping.min_delta":	{
		"type":	"number",
		"default":	0,
		"minimum":	0,
		"flag":	"min-delta",
		"description":	"decrease of the monitored loss that counts as improvement"
	},
	"early_stopping.restore_best_weights":	{
		"type":	"boolean",
		"default":	true,
		"flag":	"no-restore-best-weights",
		"description":	"with early stopping, end with the best epoch's weights"
	}
};
