import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class MinCostClimbingStairsEnv(gymnasium.Env):
    """Find the minimum cost to reach the top of a staircase: cost[i] is paid when leaving step i,
    each move climbs 1 or 2 steps, you may start on step 0 or step 1 for free, and the top is step
    len(cost), one past the last step. Observe shows the costs and the top; compute each step's
    minimum cost in order with ComputeMinCost (read values with GetMinCost) and submit the top's
    cost as an integer with Done (0 when there are fewer than 2 steps)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.COMPUTE_MIN_COST = 1
        self.GET_MIN_COST = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ComputeMinCost": self.COMPUTE_MIN_COST,
            "GetMinCost": self.GET_MIN_COST,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "MinCostClimbingStairsEnv@"
        if not env_str.startswith(prefix):
            return None
        return MinCostClimbingStairsEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.cost = list(options.get("cost", []))
        n = len(self.cost)
        # reach[i] = minimum total cost paid to stand on step i (step n is the top);
        # None until computed. Steps 0 and 1 are free starting points.
        self.reach = [None] * (n + 1)
        for i in range(min(2, n + 1)):
            self.reach[i] = 0
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        n = len(self.cost)
        if n < 2:
            return 0
        two_back, one_back = 0, 0
        for i in range(2, n + 1):
            here = min(one_back + self.cost[i - 1], two_back + self.cost[i - 2])
            two_back, one_back = one_back, here
        return one_back

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.COMPUTE_MIN_COST:
                if "step" in params:
                    msg = self.ComputeMinCost(params["step"])
                else:
                    msg = "Error: 'step' parameter is missing for ComputeMinCost action."
            elif action_code == self.GET_MIN_COST:
                if "step" in params:
                    msg = self.GetMinCost(params["step"])
                else:
                    msg = "Error: 'step' parameter is missing for GetMinCost action."
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    def _check_step(self, step):
        step = _require_int(step, "step")
        n = len(self.cost)
        if step < 0 or step > n:
            raise ValueError(f"step {step} out of range 0..{n}")
        return step

    # --- tools ---
    def Observe(self):
        r"""
        Return the staircase. cost[i] is paid when leaving step i; from step i you climb to
        step i + 1 or i + 2. You may start on step 0 or step 1 for free, and the top is
        step len(cost) (one past the last step).

        Returns:
            str: JSON object with keys "cost" and "top".

        Example Output:
            "{\"cost\": [10, 15, 20], \"top\": 3}"
        """
        return json.dumps({"cost": self.cost, "top": len(self.cost)})

    def ComputeMinCost(self, step):
        r"""
        Compute the minimum total cost to stand on a step:
        reach[i] = min(reach[i-1] + cost[i-1], reach[i-2] + cost[i-2]), with
        reach[0] = reach[1] = 0 known from the start. Steps i - 1 and i - 2 must already be
        computed, so call this for 2, 3, ..., top in order.

        Args:
            step (int): the step index, 0..top.

        Returns:
            str: the minimum cost to reach that step.

        Example Output:
            "15"
        """
        step = self._check_step(step)
        if step < 2:
            return str(self.reach[step])
        if self.reach[step - 1] is None or self.reach[step - 2] is None:
            raise ValueError(f"steps {step - 2} and {step - 1} must be computed before step {step}")
        value = min(self.reach[step - 1] + self.cost[step - 1], self.reach[step - 2] + self.cost[step - 2])
        self.reach[step] = value
        return str(value)

    def GetMinCost(self, step):
        r"""
        Read the already computed minimum cost to stand on a step.

        Args:
            step (int): the step index, 0..top.

        Returns:
            str: the minimum cost to reach that step.

        Example Output:
            "15"
        """
        step = self._check_step(step)
        if self.reach[step] is None:
            raise ValueError(f"step {step} has not been computed yet")
        return str(self.reach[step])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the minimum cost to reach the top of the staircase.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 15, reference answer: 15, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        top = task["top"]
        for i in range(2, top + 1):
            self.step(json.dumps({"name": "ComputeMinCost", "parameters": {"step": i}}))
        result = int(self.step(json.dumps({"name": "GetMinCost", "parameters": {"step": top}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": result}}))[1]


if __name__ == "__main__":
    env = MinCostClimbingStairsEnv.from_env_str('MinCostClimbingStairsEnv@{"cost": [10, 15, 20]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = MinCostClimbingStairsEnv.from_env_str(
        'MinCostClimbingStairsEnv@{"cost": [1, 100, 1, 1, 1, 100, 1, 1, 100, 1]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
