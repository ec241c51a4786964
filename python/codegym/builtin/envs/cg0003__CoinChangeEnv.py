import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class CoinChangeEnv(gymnasium.Env):
    """Find the minimum number of coins that add up exactly to the target amount, using any number
    of coins of each given denomination. Observe shows the coins and the amount; fill in the best
    coin count for amounts 1, 2, ... in order with ComputeDp (read values with GetDp) and submit an
    integer with Done: 0 for amount 0, or -1 if the amount cannot be made."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.COMPUTE_DP = 1
        self.GET_DP = 2
        self.DONE = 3
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ComputeDp": self.COMPUTE_DP,
            "GetDp": self.GET_DP,
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
        prefix = "CoinChangeEnv@"
        if not env_str.startswith(prefix):
            return None
        return CoinChangeEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.coins = list(options.get("coins", []))
        self.amount = options.get("amount", 0)
        # dp[a] = minimum number of coins summing to a, or -1 if impossible;
        # only amounts 0..len(dp)-1 have been computed so far
        self.dp = [0]
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        inf = self.amount + 1
        best = [0] + [inf] * self.amount
        for coin in self.coins:
            for a in range(coin, self.amount + 1):
                if best[a - coin] + 1 < best[a]:
                    best[a] = best[a - coin] + 1
        return best[self.amount] if best[self.amount] < inf else -1

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
            elif action_code == self.COMPUTE_DP:
                if "amount" in params:
                    msg = self.ComputeDp(params["amount"])
                else:
                    msg = "Error: 'amount' parameter is missing for ComputeDp action."
            elif action_code == self.GET_DP:
                if "amount" in params:
                    msg = self.GetDp(params["amount"])
                else:
                    msg = "Error: 'amount' parameter is missing for GetDp action."
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

    # --- tools ---
    def Observe(self):
        r"""
        Return the coin denominations (unlimited supply of each) and the target amount.

        Returns:
            str: JSON object with keys "coins" and "amount".

        Example Output:
            "{\"coins\": [1, 2, 5], \"amount\": 11}"
        """
        return json.dumps({"coins": self.coins, "amount": self.amount})

    def ComputeDp(self, amount):
        r"""
        Compute dp[amount] = 1 + min(dp[amount - c]) over coins c <= amount whose
        dp[amount - c] is reachable. dp[0] = 0 is known from the start; every smaller
        amount must already be computed, so call this for 1, 2, 3, ... in order.

        Args:
            amount (int): the amount, 1..target amount.

        Returns:
            str: the minimum number of coins for this amount, or -1 if it cannot be made.

        Example Output:
            "3"
        """
        amount = _require_int(amount, "amount")
        if amount < 0 or amount > self.amount:
            raise ValueError(f"amount {amount} out of range 0..{self.amount}")
        if amount > len(self.dp):
            raise ValueError(f"dp[{len(self.dp)}] must be computed before dp[{amount}]")
        if amount == 0:
            return "0"
        best = -1
        for coin in self.coins:
            if coin <= amount and self.dp[amount - coin] != -1:
                candidate = self.dp[amount - coin] + 1
                if best == -1 or candidate < best:
                    best = candidate
        if amount == len(self.dp):
            self.dp.append(best)
        else:
            self.dp[amount] = best
        return str(best)

    def GetDp(self, amount):
        r"""
        Read the already computed value dp[amount].

        Args:
            amount (int): the amount, 0..target amount.

        Returns:
            str: the minimum number of coins for this amount, or -1 if it cannot be made.

        Example Output:
            "-1"
        """
        amount = _require_int(amount, "amount")
        if amount < 0 or amount > self.amount:
            raise ValueError(f"amount {amount} out of range 0..{self.amount}")
        if amount >= len(self.dp):
            raise ValueError(f"dp[{amount}] has not been computed yet")
        return str(self.dp[amount])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the minimum number of coins making up the amount, or -1 if impossible.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 3, reference answer: 3, result: correct, reward=1"
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
        target = task["amount"]
        for a in range(1, target + 1):
            self.step(json.dumps({"name": "ComputeDp", "parameters": {"amount": a}}))
        result = int(self.step(json.dumps({"name": "GetDp", "parameters": {"amount": target}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": result}}))[1]


if __name__ == "__main__":
    env = CoinChangeEnv.from_env_str('CoinChangeEnv@{"coins": [1, 2, 5], "amount": 11}')
    print(env.solve())
    print("step count:", env.step_count)
    env = CoinChangeEnv.from_env_str('CoinChangeEnv@{"coins": [2], "amount": 3}')
    print(env.solve())
    print("step count:", env.step_count)
