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
	"weight_decay":	{
		"type":	"number",
		"default":	0.01,
		"minimum":	0,
		"maximum":	1e+01,
		"flag":	"weight-decay",
		"description":	"AdamW's decoupled weight decay (optimizer adamw)"
	},
	"label_smoothing":	{
		"type":	"number",
		"default":	0,
		"minimum":	0,
		"exclusiveMaximum":	1,
		"flag":	"label-smoothing",
		"description":	"cross-entropy targets (1-s) one-hot + s/classes"
	},
	"clip_norm":	{
		"type":	"number",
		"default":	0,
		"minimum":	0,
		"maximum":	1e+06,
		"flag":	"clip-norm",
		"description":	"clip the gradient to this global L2 norm (0: off)"
	},
	"lr_schedule.type":	{
		"type":	"string",
		"enum":	["constant", "step", "exponential", "cosine", "reduce_on_plateau"],
		"nullable":	false,
		"default":	"constant",
		"flag":	"lr-schedule",
		"description":	"learning-rate schedule"
	},
	"lr_schedule.step_epochs":	{
		"type":	"integer",
		"default":	10,
		"minimum":	1,
		"maximum":	10000,
		"flag":	"step-epochs",
		"description":	"step: epochs between decays"
	},
	"lr_schedule.gamma":	{
		"type":	"number",
		"default":	0.1,
		"exclusiveMinimum":	0,
		"maximum":	1,
		"flag":	"gamma",
		"description":	"step, exponential: the decay factor"
	},
	"lr_schedule.min_lr":	{
		"type":	"number",
		"default":	0,
		"minimum":	0,
		"maximum":	1e+01,
		"flag":	"min-lr",
		"description":	"cosine: the final rate; reduce_on_plateau: the floor (at most learning_rate)"
	},
	"lr_schedule.warmup_epochs":	{
		"type":	"integer",
		"default":	0,
		"minimum":	0,
		"maximum":	10000,
		"flag":	"warmup-epochs",
		"description":	"cosine: epochs of linear warm-up (fewer than epochs)"
	},
	"lr_schedule.monitor":	{
		"type":	"string",
		"enum":	["val_loss", "val_accuracy", "loss", "accuracy"],
		"nullable":	false,
		"default":	"val_loss",
		"flag":	"plateau-monitor",
		"description":	"reduce_on_plateau: the metric watched"
	},
	"lr_schedule.mode":	{
		"type":	"string",
		"enum":	["auto", "min", "max"],
		"nullable":	false,
		"default":	"auto",
		"flag":	"plateau-mode",
		"description":	"reduce_on_plateau: min, max, or auto (max for accuracies)"
	},
	"lr_schedule.factor":	{
		"type":	"number",
		"default":	0.1,
		"exclusiveMinimum":	0,
		"exclusiveMaximum":	1,
		"flag":	"plateau-factor",
		"description":	"reduce_on_plateau: the rate is multiplied by this"
	},
	"lr_schedule.patience":	{
		"type":	"integer",
		"default":	10,
		"minimum":	1,
		"maximum":	10000,
		"flag":	"plateau-patience",
		"description":	"reduce_on_plateau: epochs without improvement before a reduction"
	},
	"lr_schedule.min_delta":	{
		"type":	"number",
		"default":	0.0001,
		"minimum":	0,
		"flag":	"plateau-min-delta",
		"description":	"reduce_on_plateau: change that counts as improvement"
	},
	"lr_schedule.cooldown":	{
		"type":	"integer",
		"default":	0,
		"minimum":	0,
		"maximum":	10000,
		"flag":	"plateau-cooldown",
		"description":	"reduce_on_plateau: epochs after a reduction during which nothing is counted"
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
	"augment.hflip":	{
		"type":	"boolean",
		"default":	false,
		"flag":	"hflip",
		"description":	"augmentation: mirror each training image left-right with probability 1/2 (square images only)"
	},
	"augment.shift":	{
		"type":	"integer",
		"default":	0,
		"minimum":	0,
		"maximum":	16,
		"flag":	"shift",
		"description":	"augmentation: move each training image by up to this many pixels in x and y, uniformly (square images only; 0: off)"
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
	"early_stopping.monitor":	{
		"type":	"string",
		"enum":	["val_loss", "val_accuracy", "loss", "accuracy"],
		"nullable":	false,
		"default":	"val_loss",
		"flag":	"monitor",
		"description":	"metric watched by early stopping and best weights (val_* fall back to the training metric without a validation split)"
	},
	"early_stopping.mode":	{
		"type":	"string",
		"enum":	["auto", "min", "max"],
		"nullable":	false,
		"default":	"auto",
		"flag":	"mode",
		"description":	"min, max, or auto (max for accuracies)"
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
		"description":	"change of the monitored metric that counts as improvement"
	},
	"early_stopping.restore_best_weights":	{
		"type":	"boolean",
		"default":	true,
		"flag":	"no-restore-best-weights",
		"description":	"with early stopping, end with the best epoch's weights"
	}
};
